"""HTTP API: one router per area, shared schemas and dependencies."""

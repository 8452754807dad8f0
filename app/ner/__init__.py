"""Named-entity recognition with a spaCy pipeline."""

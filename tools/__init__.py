"""Offline tools: training the small QA model, measuring INT8 accuracy (not part of the images)."""

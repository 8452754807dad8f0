"""Offline tools (model fetching, training the small QA model, INT8 accuracy); not part of the images."""

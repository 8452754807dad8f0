"""lambda-nlp: spaCy NER and ALBERT/MXNet QA served from AWS Lambda container images."""

__version__ = "0.1.0"

"""Structured JSON logging (aws-lambda-powertools Logger), one logger for the whole process.

In Lambda every record carries the function request id (``inject_lambda_context`` in
:mod:`app.lambda_handler`); locally the request middleware appends its own ``request_id``.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

logger = Logger(service="lambda-nlp", level=os.environ.get("LOG_LEVEL", "INFO"))

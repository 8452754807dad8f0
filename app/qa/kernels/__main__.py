"""``python -m app.qa.kernels --out DIR``: compile the QA kernel library (the image build runs it)."""

import sys

from app.qa.kernels import main

sys.exit(main())

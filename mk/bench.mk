# Benchmarks and INT8 quantization (bench/, app/qa/quantize.py; see docs/performance.md).

MKL_VENV ?= .venv-mxnet-mkl
BENCH_QUICK ?= 0
BENCH_PLAN ?=
MODEL_DIR ?= models/qa
QUANTIZE_ARGS ?=

.PHONY: bench bench-quick bench-mkl-venv quantize

bench: ## Measure QA/NER vs peers, cold start, images, cost -> docs/bench/report.md (~20 min idle; BENCH_QUICK=1 smoke, BENCH_PLAN=medium on a busy machine)
	BENCH_QUICK=$(BENCH_QUICK) BENCH_PLAN=$(BENCH_PLAN) $(PY) -m bench.run \
	  $(if $(wildcard $(MKL_VENV)/bin/python),--mkl-python $(MKL_VENV)/bin/python,)

bench-quick: ## CI-speed smoke of the bench harness (writes to .bench-cache/quick-report)
	BENCH_QUICK=1 $(PY) -m bench.run --out .bench-cache/quick-report

bench-mkl-venv: ## Separate venv with mxnet-mkl 1.6.0 + gluonnlp (cannot share a venv with mxnet 1.9.1)
	test -x $(MKL_VENV)/bin/python || python3.11 -m venv $(MKL_VENV)
	$(MKL_VENV)/bin/python -m pip install $(PIP_FLAGS) mxnet-mkl==1.6.0 numpy==1.23.5 tqdm==4.70.1 \
	  cython==3.3.1 setuptools==80.9.0 wheel==0.45.1
	$(MKL_VENV)/bin/python -m pip install $(PIP_FLAGS) --no-build-isolation --no-deps --require-hashes \
	  -r requirements/gluonnlp.txt

quantize: ## INT8-quantize the QA model in MODEL_DIR (writes MODEL_DIR/int8 + fidelity.json)
	$(PY) -m app.qa.quantize --model-dir $(MODEL_DIR) $(QUANTIZE_ARGS)

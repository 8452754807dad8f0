# Benchmarks and INT8 quantization (bench/, tools/quantize.py; see docs/performance.md).

MKL_VENV ?= .venv-mxnet-mkl
BENCH_QUICK ?= 0
BENCH_PLAN ?=
MODEL_DIR ?= models/qa
QUANTIZE_ARGS ?=

# The QA image the bench starts: a random ALBERT-base-sized model baked in (latency does not
# depend on the weights), so a clean clone measures a real QA container at the default
# precision (fp32), not the 503 of no model.
BENCH_QA_MODEL ?= build/test-models/qa-base/model
BENCH_QA_IMAGE ?= lambda-nlp/qa:bench

.PHONY: bench bench-designs bench-quick bench-mkl-venv bench-qa-image quantize

bench: venv image-ner image-front bench-qa-image $(MKL_VENV)/.installed ## Measure QA/NER vs peers, cold start, images, load, Design 1 vs 2, cost -> docs/bench/report.md (BENCH_PLAN=medium on a busy machine)
	BENCH_QUICK=$(BENCH_QUICK) BENCH_PLAN=$(BENCH_PLAN) BENCH_QA_IMAGE=$(BENCH_QA_IMAGE) \
	  BENCH_FRONT_IMAGE=$(FRONT_IMAGE) $(PY) -m bench.run --mkl-python $(MKL_VENV)/bin/python

bench-quick: venv ## CI-speed smoke of the bench harness (writes to .bench-cache/quick-report)
	BENCH_QUICK=1 $(PY) -m bench.run --out .bench-cache/quick-report

# Design 1 vs Design 2 alone (bench/designs.py; the same images as make bench), e.g. BENCH_PLAN=quick.
bench-designs: venv image-ner image-front bench-qa-image ## Only the Design 1 vs Design 2 section (prints its Markdown; BENCH_PLAN=quick|medium|full)
	@mkdir -p .bench-cache
	BENCH_QA_IMAGE=$(BENCH_QA_IMAGE) BENCH_FRONT_IMAGE=$(FRONT_IMAGE) \
	  $(PY) -m bench.designs --plan $(or $(BENCH_PLAN),full) --json .bench-cache/designs.json

bench-qa-image: venv base-images ## The QA image with a random ALBERT-base-sized model, for the bench
	@test -f $(BENCH_QA_MODEL)/config.json || \
	  $(PY) -m tools.checkpoints --out $(patsubst %/,%,$(dir $(BENCH_QA_MODEL))) --size base --converted
	@$(MAKE) --no-print-directory image-qa QA_IMAGE=$(BENCH_QA_IMAGE) QA_MODEL_SRC=$(BENCH_QA_MODEL)

bench-mkl-venv: $(MKL_VENV)/.installed ## Separate venv with mxnet-mkl 1.6.0 + gluonnlp (cannot share a venv with mxnet 1.9.1)

# The QA image's mxnet-mkl environment (its hash-locked files), so the bench runs the same service.
$(MKL_VENV)/.installed: images/qa/requirements-mxnet-mkl.txt images/qa/build.txt images/qa/gluonnlp.txt \
		requirements/bench.txt
	@echo "==> creating $(MKL_VENV) from the QA image's mxnet-mkl locks"
	$(PYTHON) -m venv --clear $(MKL_VENV)
	$(MKL_VENV)/bin/python -m pip install $(PIP_FLAGS) --require-hashes --no-deps -r images/qa/requirements-mxnet-mkl.txt
	$(MKL_VENV)/bin/python -m pip install $(PIP_FLAGS) --require-hashes --no-deps -r images/qa/build.txt
	@# the bench's progress bars (not part of the image), hash-locked too
	$(MKL_VENV)/bin/python -m pip install $(PIP_FLAGS) --require-hashes --no-deps -r requirements/bench.txt
	$(MKL_VENV)/bin/python -m pip install $(PIP_FLAGS) --no-build-isolation --no-deps --require-hashes \
	  -r images/qa/gluonnlp.txt
	$(MKL_VENV)/bin/python -m pip check
	@touch $@

CHECK_SET ?=
quantize: ## INT8-quantize MODEL_DIR; CHECK_SET=squad|squad_v2|heldout|FILE runs the accuracy gate (QA_PRECISION=auto serves INT8 only if it passes)
	$(if $(CHECK_SET),$(PY) -m tools.int8_gate --model-dir $(MODEL_DIR) --check-set $(CHECK_SET),$(PY) -m tools.quantize --model-dir $(MODEL_DIR) $(QUANTIZE_ARGS))

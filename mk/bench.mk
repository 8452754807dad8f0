# Benchmarks and INT8 quantization (bench/, tools/quantize.py; see docs/performance.md).

MKL_VENV ?= .venv-mxnet-mkl
BENCH_QUICK ?= 0
BENCH_PLAN ?=
MODEL_DIR ?= models/qa
QUANTIZE_ARGS ?=

# The QA image the bench starts bakes the bench's gate-checked model (bench/checkpoint.py: ALBERT
# trained here with base's 12 layers, widened exactly to base's width, quantized and gated), so
# the container sections measure a real QA function at the default precision, `auto`, as the
# gate decided for that model, not the 503 of no model. Built once (about 15 min of training on
# 2 cores, then a few minutes of gating) and reused.
BENCH_QA_MODEL ?= build/bench-models/gated/model
BENCH_QA_IMAGE ?= lambda-nlp/qa:bench

.PHONY: bench bench-designs bench-gemm bench-quick bench-mkl-venv bench-model bench-qa-image quantize

bench: venv image-ner image-front bench-qa-image $(MKL_VENV)/.installed ## Measure QA/NER vs peers, cold start, images, load, Design 1 vs 2, cost -> docs/bench/report.md (BENCH_PLAN=medium on a busy machine)
	BENCH_QUICK=$(BENCH_QUICK) BENCH_PLAN=$(BENCH_PLAN) BENCH_QA_IMAGE=$(BENCH_QA_IMAGE) \
	  BENCH_FRONT_IMAGE=$(FRONT_IMAGE) $(PY) -m bench.run --mkl-python $(MKL_VENV)/bin/python

bench-quick: venv ## CI-speed smoke of the bench harness (writes to .bench-cache/quick-report)
	BENCH_QUICK=1 $(PY) -m bench.run --out .bench-cache/quick-report

# Design 1 vs Design 2 alone (bench/designs.py; the same images as make bench), e.g. BENCH_PLAN=quick.
bench-designs: venv image-ner image-front bench-qa-image ## Only the Design 1 vs Design 2 section (prints its Markdown; BENCH_PLAN=quick|medium|full)
	@mkdir -p .bench-cache
	BENCH_QA_IMAGE=$(BENCH_QA_IMAGE) BENCH_FRONT_IMAGE=$(FRONT_IMAGE) \
	  $(PY) -m bench.designs_cli --plan $(or $(BENCH_PLAN),full) --json .bench-cache/designs.json

bench-gemm: venv ## The GEMM floor: ALBERT-base's layers, mxnet INT8 vs PyTorch fp32, uncapped and at AVX2 (~1 min)
	$(PY) -m bench.gemm_floor

bench-model: venv ## The bench's gate-checked ALBERT-base-shaped model (trained here ~15 min, widened, gated; cached)
	OMP_NUM_THREADS=2 $(PY) -m bench.checkpoint

bench-qa-image: venv base-images bench-model ## The QA image with the bench's gate-checked model, for the bench
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

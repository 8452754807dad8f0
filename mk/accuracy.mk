# INT8 accuracy on a small ALBERT QA model trained here (tools/, docs/int8-accuracy.md).
# Training runs once (about 15 min on 2 cores) and is cached in ACCURACY_DIR/hf; later runs only
# convert, quantize and evaluate again (a few minutes), e.g. after a change to the graph or the
# quantizer.
ACCURACY_DIR ?= $(MODELS_DIR)/trained-small
ACCURACY_MINUTES ?= 15
ACCURACY_THREADS ?= 2
ACCURACY_RETRAIN ?= 0
ACCURACY_ARGS ?=
GATE_ARGS ?=

.PHONY: accuracy

accuracy: | $(if $(wildcard $(VENV)/.installed),,venv) ## Train (or reuse) a small ALBERT QA model, convert, quantize with the accuracy gate, compare fp32 vs INT8 -> docs/int8-accuracy.md
	@echo "==> [1/4] trained checkpoint $(ACCURACY_DIR)/hf (trains about $(ACCURACY_MINUTES) min unless cached)"
	OMP_NUM_THREADS=$(ACCURACY_THREADS) $(PY) -m tools.train_qa --out $(ACCURACY_DIR) \
	  --minutes $(ACCURACY_MINUTES) --threads $(ACCURACY_THREADS) $(if $(filter 1,$(ACCURACY_RETRAIN)),--force)
	@echo "==> [2/4] converting with tools.convert into $(ACCURACY_DIR)/model"
	rm -rf $(ACCURACY_DIR)/model
	OMP_NUM_THREADS=$(ACCURACY_THREADS) $(PY) -m tools.convert --from-hf $(ACCURACY_DIR)/hf --out $(ACCURACY_DIR)/model
	@echo "==> [3/4] quantizing with the accuracy gate on the held-out split (tools.int8_gate: INT8 graphs + gate.json)"
	OMP_NUM_THREADS=$(ACCURACY_THREADS) $(PY) -m tools.int8_gate --model-dir $(ACCURACY_DIR)/model \
	  --check-set heldout --threads $(ACCURACY_THREADS) $(GATE_ARGS)
	@echo "==> [4/4] evaluating the held-out split: transformers, QaService fp32 and int8"
	$(PY) -m tools.int8_accuracy --work $(ACCURACY_DIR) --threads $(ACCURACY_THREADS) $(ACCURACY_ARGS)

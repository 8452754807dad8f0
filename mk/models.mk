# QA model directories (docs/qa-model.md). Included by the Makefile.
MODELS_DIR ?= models
QA_CHECKPOINT ?= twmkn9/albert-base-v2-squad2
RANDOM_QA_SIZE ?= tiny
RANDOM_QA_OUT ?= $(MODELS_DIR)/random-$(RANDOM_QA_SIZE)

.PHONY: models models-random

models: | $(if $(wildcard $(PY)),,venv) ## Convert the default QA checkpoint ($(QA_CHECKPOINT)) into $(MODELS_DIR)/qa (needs the HF hub)
	@if [ -f $(MODELS_DIR)/qa/config.json ]; then \
		echo "$(MODELS_DIR)/qa is already there (delete it to convert again)"; \
	else \
		$(PY) -m app.qa.convert --from-hf $(QA_CHECKPOINT) --out $(MODELS_DIR)/qa.tmp \
		&& rm -rf $(MODELS_DIR)/qa && mv $(MODELS_DIR)/qa.tmp $(MODELS_DIR)/qa \
		|| { rm -rf $(MODELS_DIR)/qa.tmp; \
		     echo "make models: could not build $(MODELS_DIR)/qa from $(QA_CHECKPOINT) (see the error above)." >&2; \
		     echo "  Without hub access: download the checkpoint elsewhere and run" >&2; \
		     echo "  $(PY) -m app.qa.convert --from-hf DIR --out $(MODELS_DIR)/qa" >&2; \
		     echo "  or make models-random for a random-weight model with the same code path." >&2; \
		     exit 1; }; \
	fi

models-random: | $(if $(wildcard $(PY)),,venv) ## Random-weight ALBERT QA model for offline work (RANDOM_QA_SIZE=tiny|base) into RANDOM_QA_OUT
	$(PY) -m tests.qa.checkpoints --out $(RANDOM_QA_OUT) --size $(RANDOM_QA_SIZE) --converted

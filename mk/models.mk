# QA model directories (docs/qa-model.md). Included by the Makefile.
MODELS_DIR ?= models
QA_CHECKPOINT ?= twmkn9/albert-base-v2-squad2
# The INT8 accuracy gate's questions (tools.int8_gate): empty = SQuAD dev from the hub for a hub
# checkpoint (v2 for a squad2 model), none for a directory; or squad, squad_v2, heldout, a FILE.
QA_CHECK_SET ?=
RANDOM_QA_SIZE ?= tiny
RANDOM_QA_OUT ?= $(MODELS_DIR)/random-$(RANDOM_QA_SIZE)

.PHONY: models models-auto models-random

models: | $(if $(wildcard $(VENV)/.installed),,venv) ## Convert the default QA checkpoint ($(QA_CHECKPOINT)) into $(MODELS_DIR)/qa (needs the HF hub)
	@if [ -f $(MODELS_DIR)/qa/config.json ]; then \
		echo "$(MODELS_DIR)/qa is already there (delete it to convert again)"; \
	else \
		$(PY) -m tools.fetch_model fetch $(QA_CHECKPOINT) --out $(MODELS_DIR)/qa \
			$(if $(QA_CHECK_SET),--check-set $(QA_CHECK_SET)) \
		|| { echo "make models: could not build $(MODELS_DIR)/qa from $(QA_CHECKPOINT) (see the error above)." >&2; \
		     echo "  Without hub access: download the checkpoint elsewhere and run" >&2; \
		     echo "  make models QA_CHECKPOINT=DIR" >&2; \
		     echo "  or make models-random for a random-weight model with the same code path." >&2; \
		     exit 1; }; \
	fi

# The first step of `make run` / `make up`. Without a model (and with no QA_MODEL_SRC given) it
# asks the hub for QA_CHECKPOINT (one HEAD, 3 s timeout, no venv needed): if the hub answers, it
# creates the venv if missing and does what `make models` does; if not, it prints one line and
# the stack starts without a QA model. Then it adds the INT8 artefact to the model to be baked
# when the QA image's default precision needs one. It never fails: the stack starts regardless.
models-auto: ## What `make run` does first: fetch $(QA_CHECKPOINT) into $(MODELS_DIR)/qa if missing and the hub answers
	@if [ "$(origin QA_MODEL_SRC)" = file ]; then src=$(MODELS_DIR)/qa; else src="$(QA_MODEL_SRC)"; fi; \
	if [ "$(origin QA_MODEL_SRC)" = file ] && [ ! -f $(MODELS_DIR)/qa/config.json ]; then \
		$(if $(wildcard $(VENV)/.installed),$(PY),python3) -m tools.fetch_model probe $(QA_CHECKPOINT) || exit 0; \
		echo "==> QA model: $(QA_CHECKPOINT) is available; fetching it (once; \`make models\` alone does the same)"; \
		{ [ -f $(VENV)/.installed ] || $(MAKE) --no-print-directory venv; } \
		&& $(PY) -m tools.fetch_model fetch $(QA_CHECKPOINT) --out $(MODELS_DIR)/qa \
			$(if $(QA_CHECK_SET),--check-set $(QA_CHECK_SET)) \
		|| echo "==> QA model: could not build $(MODELS_DIR)/qa (see above); starting without it (\`make models\` retries)"; \
	elif [ -f "$$src/config.json" ] && [ -f $(VENV)/.installed ]; then \
		$(PY) -m tools.fetch_model int8 "$$src" $(if $(QA_CHECK_SET),--check-set $(QA_CHECK_SET)) \
		|| echo "==> QA model: no INT8 artefact for $$src (see above); its QA may answer 503"; \
	fi

models-random: | $(if $(wildcard $(VENV)/.installed),,venv) ## Random-weight ALBERT QA model for offline work (RANDOM_QA_SIZE=tiny|base) into RANDOM_QA_OUT
	$(PY) -m tools.checkpoints --out $(RANDOM_QA_OUT) --size $(RANDOM_QA_SIZE) --converted

# Container images, the local Lambda base and the compose stack (docs/images.md).
# BASE=local (default here: public.ecr.aws is unreachable) builds on the debootstrapped stand-ins;
# BASE=aws builds the same Dockerfiles on public.ecr.aws/lambda/python:3.11 and sam/build-python3.11.
BASE ?= local
ifeq ($(BASE),aws)
BASE_IMAGE ?= public.ecr.aws/lambda/python:3.11
BUILD_IMAGE ?= public.ecr.aws/sam/build-python3.11
else
BASE_IMAGE ?= lambda-nlp/lambda-python:3.11
BUILD_IMAGE ?= lambda-nlp/build-python:3.11
endif
NER_IMAGE ?= lambda-nlp/ner:latest
QA_IMAGE ?= lambda-nlp/qa:latest
MXNET_PACKAGE ?= mxnet
# The QA image bakes models/qa (from `make models`) when it exists; otherwise an empty model
# directory, so the stack still starts and /qa answers 503 naming `make models`.
QA_MODEL_SRC ?= $(if $(wildcard models/qa/config.json),models/qa,images/qa/no-model)
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
COMPOSE_PROJECT ?= lambda-nlp
COMPOSE_ENV = COMPOSE_PROJECT_NAME=$(COMPOSE_PROJECT) NER_IMAGE=$(NER_IMAGE) QA_IMAGE=$(QA_IMAGE) BASE_IMAGE=$(BASE_IMAGE) \
	BUILD_IMAGE=$(BUILD_IMAGE) QA_MODEL_SRC=$(QA_MODEL_SRC) PORT=$(PORT)
DOCKER_BUILD = bash scripts/docker-build.sh --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg BUILD_IMAGE=$(BUILD_IMAGE)
HADOLINT ?= $(VENV)/bin/hadolint

.PHONY: docker base-images images image-ner image-qa up down hadolint locks

docker: ## Install/start the Docker engine if needed (scripts/ensure-docker.sh)
	@bash scripts/ensure-docker.sh

base-images: docker ## Build the local Lambda base images (debootstrap + RIE; skipped when current)
ifeq ($(BASE),aws)
	@echo "==> BASE=aws: using $(BASE_IMAGE) and $(BUILD_IMAGE) (pulled by docker build)"
else
	@bash scripts/build-base-images.sh
endif

image-ner: base-images
	@echo "==> building $(NER_IMAGE) on $(BASE_IMAGE)"
	@$(DOCKER_BUILD) -f images/ner/Dockerfile -t $(NER_IMAGE) . >/dev/null

image-qa: base-images
	@echo "==> building $(QA_IMAGE) on $(BASE_IMAGE) (model: $(QA_MODEL_SRC), $(MXNET_PACKAGE))"
	@$(DOCKER_BUILD) --build-arg QA_MODEL_SRC=$(QA_MODEL_SRC) --build-arg MXNET_PACKAGE=$(MXNET_PACKAGE) \
		-f images/qa/Dockerfile -t $(QA_IMAGE) . >/dev/null

images: image-ner image-qa ## Build the NER and QA function images (BASE=aws for the AWS bases)
	@docker image ls --format '    {{.Repository}}:{{.Tag}}  {{.Size}}' $(NER_IMAGE)
	@docker image ls --format '    {{.Repository}}:{{.Tag}}  {{.Size}}' $(QA_IMAGE)

# `make run` is `make up`. Its first step (models-auto, mk/models.mk) may write models/qa, so the
# images are built by a second make, which sees the model (QA_MODEL_SRC) as it is then.
up: ## Start the local stack (RIE functions + function-URL front door on 127.0.0.1:$(PORT)); fetches the QA model first if the hub answers
	@$(MAKE) --no-print-directory models-auto
	@$(MAKE) --no-print-directory images
	@$(COMPOSE_ENV) $(COMPOSE) up -d --no-build
	@python3 scripts/wait-for-stack.py http://127.0.0.1:$(PORT) 300

down: ## Stop the local stack
	@$(COMPOSE_ENV) $(COMPOSE) down --remove-orphans

hadolint: ## Lint the Dockerfiles
	$(HADOLINT) images/ner/Dockerfile images/qa/Dockerfile images/base/runtime.Dockerfile images/base/build.Dockerfile

locks: ## Regenerate the hash-locked requirement files of the images
	bash scripts/lock-images.sh

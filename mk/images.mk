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
FRONT_IMAGE ?= lambda-nlp/front:latest
# DESIGN=2 (default): the models inside Lambda. DESIGN=1: the same images in SageMaker serving
# mode behind the thin front function (docs/design1.md), on DESIGN1_PORT so both can run at once.
DESIGN ?= 2
ifeq ($(filter 1 2,$(DESIGN)),)
$(error DESIGN must be 1 (front + SageMaker serving mode) or 2 (models in Lambda), not '$(DESIGN)')
endif
DESIGN1_PORT ?= $(shell expr $(PORT) + 1)
DESIGN1_SERVICES = ner-serve qa-serve sagemaker-runtime front frontdoor-design1
MXNET_PACKAGE ?= mxnet
# The QA image bakes models/qa (from `make models`) when it exists; otherwise an empty model
# directory, so the stack still starts and /qa answers 503 naming `make models`.
QA_MODEL_SRC ?= $(if $(wildcard models/qa/config.json),models/qa,images/qa/no-model)
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
COMPOSE_PROJECT ?= lambda-nlp
COMPOSE_ENV = COMPOSE_PROJECT_NAME=$(COMPOSE_PROJECT) NER_IMAGE=$(NER_IMAGE) QA_IMAGE=$(QA_IMAGE) BASE_IMAGE=$(BASE_IMAGE) \
	BUILD_IMAGE=$(BUILD_IMAGE) QA_MODEL_SRC=$(QA_MODEL_SRC) PORT=$(PORT) FRONT_IMAGE=$(FRONT_IMAGE) \
	DESIGN1_PORT=$(DESIGN1_PORT)
# NO_CACHE=1 builds every image, the local bases included, without Docker's layer cache, so pip
# installs each lock again as on a fresh machine (.ci/run does; a cached layer hides a broken lock).
NO_CACHE ?= 0
DOCKER_BUILD = bash scripts/docker-build.sh $(if $(filter 1,$(NO_CACHE)),--no-cache) \
	--build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg BUILD_IMAGE=$(BUILD_IMAGE)
HADOLINT ?= $(VENV)/bin/hadolint

.PHONY: docker base-images images image-ner image-qa image-front up smoke down hadolint locks

docker: ## Install/start the Docker engine if needed (scripts/ensure-docker.sh)
	@bash scripts/ensure-docker.sh

base-images: docker ## Build the local Lambda base images (debootstrap + RIE; skipped when current)
ifeq ($(BASE),aws)
	@echo "==> BASE=aws: using $(BASE_IMAGE) and $(BUILD_IMAGE) (pulled by docker build)"
else
	@$(if $(filter 1,$(NO_CACHE)),FORCE=1) bash scripts/build-base-images.sh
endif

image-ner: base-images
	@echo "==> building $(NER_IMAGE) on $(BASE_IMAGE)"
	@$(DOCKER_BUILD) -f images/ner/Dockerfile -t $(NER_IMAGE) . >/dev/null

image-qa: base-images
	@echo "==> building $(QA_IMAGE) on $(BASE_IMAGE) (model: $(QA_MODEL_SRC), $(MXNET_PACKAGE))"
	@$(DOCKER_BUILD) --build-arg QA_MODEL_SRC=$(QA_MODEL_SRC) --build-arg MXNET_PACKAGE=$(MXNET_PACKAGE) \
		-f images/qa/Dockerfile -t $(QA_IMAGE) . >/dev/null

image-front: base-images ## Build Design 1's thin front function image (botocore + powertools)
	@echo "==> building $(FRONT_IMAGE) on $(BASE_IMAGE)"
	@$(DOCKER_BUILD) -f images/front/Dockerfile -t $(FRONT_IMAGE) . >/dev/null

images: image-ner image-qa $(if $(filter 1,$(DESIGN)),image-front) ## Build the NER and QA images (DESIGN=1: and the front; BASE=aws for the AWS bases)
	@docker image ls --format '    {{.Repository}}:{{.Tag}}  {{.Size}}' $(NER_IMAGE)
	@docker image ls --format '    {{.Repository}}:{{.Tag}}  {{.Size}}' $(QA_IMAGE)
	@$(if $(filter 1,$(DESIGN)),docker image ls --format '    {{.Repository}}:{{.Tag}}  {{.Size}}' $(FRONT_IMAGE),true)

# `make run` is `make up`. Its first step (models-auto, mk/models.mk) may write models/qa, so the
# images are built by a second make, which sees the model (QA_MODEL_SRC) as it is then.
# DESIGN=1 starts only Design 1's services (profile design1), on DESIGN1_PORT (PORT+1).
up: ## Start the local stack (RIE functions + function-URL front door on 127.0.0.1:$(PORT); DESIGN=1: SageMaker serving mode + front on PORT+1); fetches the QA model first if the hub answers
	@$(MAKE) --no-print-directory models-auto
	@$(MAKE) --no-print-directory images
ifeq ($(DESIGN),1)
	@$(COMPOSE_ENV) $(COMPOSE) --profile design1 up -d --no-build $(DESIGN1_SERVICES)
	@python3 scripts/wait-for-stack.py http://127.0.0.1:$(DESIGN1_PORT) 300 1
else
	@$(COMPOSE_ENV) $(COMPOSE) up -d --no-build
	@python3 scripts/wait-for-stack.py http://127.0.0.1:$(PORT) 300
endif

smoke: ## One request to /ner, /qa and the page through the front door of `make run` (Design 2)
	@python3 scripts/smoke-stack.py http://127.0.0.1:$(PORT)

down: ## Stop the local stack (both designs)
	@$(COMPOSE_ENV) $(COMPOSE) --profile design1 down --remove-orphans

hadolint: ## Lint the Dockerfiles
	$(HADOLINT) images/ner/Dockerfile images/qa/Dockerfile images/front/Dockerfile images/base/runtime.Dockerfile \
		images/base/build.Dockerfile

locks: $(LOCK_VENV)/.installed ## Regenerate the hash-locked requirement files of the images (LOCK_IMAGES="front" for some)
	LOCK_VENV=$(LOCK_VENV) bash scripts/lock-images.sh $(LOCK_IMAGES)

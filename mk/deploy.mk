# Deployment to AWS (docs/deploy.md): template.yaml, ECR, function URLs.
# `make deploy` needs the AWS CLI, credentials and Docker; `make invoke` the CLI and credentials.
STACK ?= lambda-nlp
# DESIGN=2: the models inside Lambda. DESIGN=1: the same images on SageMaker endpoints (ENDPOINT_KIND
# serverless or realtime) behind a thin front function built from images/front (FRONT_IMAGE).
DESIGN ?= 2
ENDPOINT_KIND ?= serverless
AWS_REGION ?= $(or $(AWS_DEFAULT_REGION),$(shell aws configure get region 2>/dev/null))
COLD_START ?= none
URL_AUTH ?= AWS_IAM
PULL_ACCOUNTS ?=
CORS_ORIGINS ?=
PROVISIONED ?= 1
# Extra Key=Value template parameter overrides, e.g. PARAMS="QaMemorySize=6144 LogLevel=DEBUG".
PARAMS ?=
SAM_VENV ?= .venv-sam
DEPLOY_ENV = STACK=$(STACK) AWS_REGION=$(AWS_REGION) DESIGN=$(DESIGN) ENDPOINT_KIND=$(ENDPOINT_KIND) \
	COLD_START=$(COLD_START) URL_AUTH=$(URL_AUTH) \
	PULL_ACCOUNTS=$(PULL_ACCOUNTS) CORS_ORIGINS=$(CORS_ORIGINS) PROVISIONED=$(PROVISIONED) \
	PARAMS="$(PARAMS)" PY=$(PY) NER_IMAGE=$(NER_IMAGE) QA_IMAGE=$(QA_IMAGE) FRONT_IMAGE=$(FRONT_IMAGE) \
	MAKE="$(MAKE)"

# `make proxy`: the local signing proxy's port (http://127.0.0.1:$(PROXY_PORT)/).
PROXY_PORT ?= 8080

.PHONY: deploy invoke proxy sam-venv lint-template lock-sam sam-build sam-local

$(SAM_VENV)/.installed: requirements/sam.txt
	@echo "==> creating $(SAM_VENV) (aws-sam-cli, cfn-lint: their pydantic pin conflicts with the app's)"
	$(PYTHON) -m venv --clear $(SAM_VENV)
	@# --no-deps: sam.txt is the full closure, and pip mis-reads pinned extras (boto3[crt]) as unpinned.
	$(SAM_VENV)/bin/python -m pip install $(PIP_FLAGS) --no-deps --require-hashes -r requirements/sam.txt
	$(SAM_VENV)/bin/python -m pip check
	@touch $@

sam-venv: $(SAM_VENV)/.installed ## Virtualenv with aws-sam-cli and cfn-lint (.venv-sam)

lint-template: sam-venv ## cfn-lint and `sam validate --lint` on template.yaml, both designs (offline)
	$(SAM_VENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --template template.yaml --region eu-west-1

# SAM's own build and local commands on template.yaml (docs/deploy.md): `sam build` builds each
# function's image from its Metadata (the project's Dockerfiles) on BASE_IMAGE/BUILD_IMAGE (the local
# bases; BASE=aws for the AWS ones) with QA_MODEL_SRC baked in; DESIGN=1 builds the front image too.
SAM = SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam
SAM_BUILD_PARAMS = Design=$(DESIGN) BaseImage=$(BASE_IMAGE) BuildImage=$(BUILD_IMAGE) QaModelSrc=$(QA_MODEL_SRC)
# Where `sam build` writes the built template; `sam local` finds it there by default.
SAM_BUILD_DIR ?= .aws-sam/build
# `sam local` lets a shell variable override the function variable of the same name: unset the
# template's, so the functions run as the template configures them.
SAM_LOCAL = env -u SERVICES -u QA_PRECISION -u LOG_LEVEL -u POWERTOOLS_METRICS_NAMESPACE \
	-u POWERTOOLS_SERVICE_NAME $(SAM) local

sam-build: sam-venv base-images ## `sam build`: the NER and QA images (DESIGN=1: and the front) from template.yaml, QA_MODEL_SRC baked in
	$(SAM) build --build-dir $(SAM_BUILD_DIR) --parameter-overrides $(SAM_BUILD_PARAMS)

sam-local: sam-build ## `sam build`, then `sam local invoke` of NerFunction and QaFunction with events/ner.json and events/qa.json
	$(SAM_LOCAL) invoke NerFunction -t $(SAM_BUILD_DIR)/template.yaml -e events/ner.json --skip-pull-image
	@echo
	$(SAM_LOCAL) invoke QaFunction -t $(SAM_BUILD_DIR)/template.yaml -e events/qa.json --skip-pull-image
	@echo

deploy: ## Build, push and deploy (STACK, AWS_REGION, DESIGN=1|2, ENDPOINT_KIND, COLD_START, URL_AUTH, PULL_ACCOUNTS)
	@$(DEPLOY_ENV) bash scripts/deploy.sh deploy

invoke: ## Call the deployed NER and QA URLs (either design) with tools.client (SigV4 when URL_AUTH=AWS_IAM)
	@$(DEPLOY_ENV) bash scripts/deploy.sh invoke

proxy: venv ## The deployed stack's page and API on 127.0.0.1:8080 (PROXY_PORT), signed with your AWS credentials (STACK, AWS_REGION)
	$(PY) -m tools.proxy --stack $(STACK) $(if $(AWS_REGION),--region $(AWS_REGION)) --port $(PROXY_PORT)

lock-sam: $(LOCK_VENV)/.installed ## Regenerate requirements/sam.txt (hash-locked) from requirements/sam.in
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --no-strip-extras \
		--no-emit-index-url --no-emit-find-links -o requirements/sam.txt requirements/sam.in

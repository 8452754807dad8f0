#!/usr/bin/env bash
# Deploy lambda-nlp to AWS, or call the deployed function URLs (docs/deploy.md).
#   scripts/deploy.sh deploy   repositories (first pass), build, push, functions (second pass)
#   scripts/deploy.sh invoke   one NER and one QA request through tools.client
#   scripts/deploy.sh params [NER_TAG QA_TAG [FRONT_TAG]]   the template parameter overrides it would pass
# Settings come from the environment (mk/deploy.mk sets them): STACK, AWS_REGION, DESIGN,
# ENDPOINT_KIND, COLD_START, URL_AUTH, PULL_ACCOUNTS, CORS_ORIGINS, PROVISIONED, PARAMS, PY,
# NER_IMAGE, QA_IMAGE, FRONT_IMAGE, MAKE.
# DESIGN=2 (default): the models run in two Lambda functions. DESIGN=1: the same two images run as
# SageMaker endpoints behind a third, thin front image (ENDPOINT_KIND=serverless|realtime).
set -euo pipefail

STACK=${STACK:-lambda-nlp}
DESIGN=${DESIGN:-2}
QA_MODEL=${QA_MODEL:-models/qa}
ENDPOINT_KIND=${ENDPOINT_KIND:-serverless}
COLD_START=${COLD_START:-none}
URL_AUTH=${URL_AUTH:-AWS_IAM}
PROVISIONED=${PROVISIONED:-1}
PY=${PY:-.venv/bin/python}
NER_IMAGE=${NER_IMAGE:-lambda-nlp/ner:latest}
QA_IMAGE=${QA_IMAGE:-lambda-nlp/qa:latest}
FRONT_IMAGE=${FRONT_IMAGE:-lambda-nlp/front:latest}
MAKE=${MAKE:-make}
TEMPLATE=template.yaml

die() {
    echo "error: $*" >&2
    exit 2
}

check_settings() {
    [[ $DESIGN == 1 || $DESIGN == 2 ]] ||
        die "DESIGN must be 1 (SageMaker endpoints behind a thin front function) or 2 (the models in Lambda), not '$DESIGN'."
    [[ $ENDPOINT_KIND == serverless || $ENDPOINT_KIND == realtime ]] ||
        die "ENDPOINT_KIND must be serverless or realtime, not '$ENDPOINT_KIND'."
}

# Design 1 needs the QA model baked in: without it the QA container's /ping stays 503, and
# SageMaker retries its health check for a long time before it fails the endpoint's creation.
check_qa_model() {
    [[ $DESIGN == 2 || -f $QA_MODEL/config.json ]] ||
        die "DESIGN=1 needs a QA model in $QA_MODEL (config.json, model.params, spiece.model): run
       'make models' (or copy a converted model there) first. Without one the QA endpoint never
       passes SageMaker's health check. Design 2 deploys without it (/qa answers 503)."
}

# Fail before any build or upload when the AWS side cannot work: no CLI, no credentials, no Region.
preflight() {
    command -v aws >/dev/null 2>&1 ||
        die "the AWS CLI is not installed or not on PATH. make $1 needs it (ECR login, CloudFormation).
       Install AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)
       or use the project venv's (make venv; PATH=\$PWD/.venv/bin:\$PATH)."
    local out
    if ! out=$(aws sts get-caller-identity --region "${AWS_REGION:-us-east-1}" \
        --query Account --output text 2>&1); then
        die "no usable AWS credentials: 'aws sts get-caller-identity' failed:
       $(printf '%s' "$out" | grep -v '^$' | tail -n 1)
       Configure credentials first: 'aws configure', or 'aws sso login --profile NAME' and
       'export AWS_PROFILE=NAME', or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY(/AWS_SESSION_TOKEN)."
    fi
    ACCOUNT=$out
    [[ -n ${AWS_REGION:-} ]] ||
        die "no AWS Region: run 'make $1 AWS_REGION=eu-west-1' (or 'aws configure set region eu-west-1')."
    export AWS_REGION AWS_DEFAULT_REGION=$AWS_REGION
    echo "==> account $ACCOUNT, region $AWS_REGION, stack $STACK"
}

stack_output() {
    aws cloudformation describe-stacks --stack-name "$STACK" \
        --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text 2>/dev/null || true
}

stack_parameters() {
    # $1 $2 $3: NER, QA and front image tags (empty in the first pass; the front's only with
    # DESIGN=1). Every parameter is passed each time: `aws cloudformation deploy` would otherwise
    # keep a stack's previous value. PARAMS word-splits on purpose.
    # shellcheck disable=SC2206
    local extra=(${PARAMS:-})
    echo "Design=$DESIGN" "RepositoryPrefix=$STACK" "NerImageTag=$1" "QaImageTag=$2" \
        "FrontImageTag=${3:-}" "EndpointKind=$ENDPOINT_KIND" "ColdStartMode=$COLD_START" \
        "FunctionUrlAuthType=$URL_AUTH" "PullAccountIds=${PULL_ACCOUNTS:-}" \
        "CorsAllowOrigins=${CORS_ORIGINS:-}" "ProvisionedConcurrency=$PROVISIONED" "${extra[@]}"
}

cfn_deploy() {
    # `aws cloudformation deploy` runs the SAM transform server-side; nothing needs packaging
    # because every function and model is an image that this script has already pushed.
    local params
    read -r -a params <<<"$(stack_parameters "$1" "$2" "${3:-}")"
    aws cloudformation deploy --stack-name "$STACK" --template-file "$TEMPLATE" \
        --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
        --parameter-overrides "${params[@]}"
}

# The tag is the image id's hash: the same build keeps its tag (ECR tags are immutable here), a new
# build gets a new one, which also makes CloudFormation publish a new version.
image_tag() {
    docker image inspect -f '{{.Id}}' "$1" | sed 's/^sha256://' | cut -c1-16
}

push_image() {
    local image=$1 repo_uri=$2 tag=$3
    local repo_name=${repo_uri#*/}
    if aws ecr describe-images --repository-name "$repo_name" --image-ids "imageTag=$tag" >/dev/null 2>&1; then
        echo "==> $repo_uri:$tag already in ECR"
        return
    fi
    docker tag "$image" "$repo_uri:$tag"
    echo "==> pushing $repo_uri:$tag"
    docker push --quiet "$repo_uri:$tag"
}

missing() {
    [[ -z $1 || $1 == None ]]
}

deploy() {
    check_settings
    preflight deploy
    check_qa_model
    docker info >/dev/null 2>&1 || die "the Docker engine is not running: run 'make docker' first."
    local ner_repo qa_repo front_repo=""
    ner_repo=$(stack_output NerRepositoryUri)
    qa_repo=$(stack_output QaRepositoryUri)
    if [[ $DESIGN == 1 ]]; then front_repo=$(stack_output FrontRepositoryUri); fi
    if missing "$ner_repo" || missing "$qa_repo" || { [[ $DESIGN == 1 ]] && missing "$front_repo"; }; then
        # Empty tags: the stack keeps only its repositories until the second pass (a stack that
        # switches design loses the other design's resources here).
        echo "==> first pass: ECR repositories only (no image tags yet, Design $DESIGN)"
        cfn_deploy "" "" ""
        ner_repo=$(stack_output NerRepositoryUri)
        qa_repo=$(stack_output QaRepositoryUri)
        if [[ $DESIGN == 1 ]]; then front_repo=$(stack_output FrontRepositoryUri); fi
    fi
    echo "==> building the images on the AWS base images"
    $MAKE images BASE=aws DESIGN="$DESIGN" NER_IMAGE="$NER_IMAGE" QA_IMAGE="$QA_IMAGE" FRONT_IMAGE="$FRONT_IMAGE"
    local ner_tag qa_tag front_tag=""
    ner_tag=$(image_tag "$NER_IMAGE")
    qa_tag=$(image_tag "$QA_IMAGE")
    if [[ $DESIGN == 1 ]]; then
        docker image inspect "$FRONT_IMAGE" >/dev/null 2>&1 ||
            die "no image $FRONT_IMAGE after 'make images': Design 1 needs the front image (images/front/Dockerfile)."
        front_tag=$(image_tag "$FRONT_IMAGE")
    fi
    aws ecr get-login-password | docker login --username AWS --password-stdin "${ner_repo%%/*}"
    push_image "$NER_IMAGE" "$ner_repo" "$ner_tag"
    push_image "$QA_IMAGE" "$qa_repo" "$qa_tag"
    if [[ $DESIGN == 1 ]]; then
        push_image "$FRONT_IMAGE" "$front_repo" "$front_tag"
        echo "==> second pass: SageMaker endpoints ($ENDPOINT_KIND) and the front function, auth $URL_AUTH"
        echo "    (creating an endpoint takes several minutes)"
    else
        echo "==> second pass: functions and URLs (ColdStartMode=$COLD_START, auth $URL_AUTH)"
    fi
    cfn_deploy "$ner_tag" "$qa_tag" "$front_tag"
    echo "==> NER: $(stack_output NerFunctionUrl)"
    echo "==> QA:  $(stack_output QaFunctionUrl)"
    echo "==> dashboard: $(stack_output DashboardUrl)"
    echo "==> try it: make invoke STACK=$STACK AWS_REGION=$AWS_REGION"
    closing_page_lines
}

# The URLs' auth type as deployed: URL_AUTH, unless PARAMS overrides FunctionUrlAuthType.
url_auth() {
    local auth=$URL_AUTH word
    # shellcheck disable=SC2086 # PARAMS word-splits on purpose, as in stack_parameters
    for word in ${PARAMS:-}; do
        if [[ $word == FunctionUrlAuthType=* ]]; then auth=${word#*=}; fi
    done
    echo "$auth"
}

# How to open the page (Design 2) or call the API from a browser or curl (Design 1's front serves
# the API only): an AWS_IAM URL answers an unsigned browser 403, so through the signing proxy.
closing_page_lines() {
    local what="the page"
    [[ $DESIGN == 1 ]] && what="the API (Design 1's front serves no page)"
    if [[ $(url_auth) == AWS_IAM ]]; then
        echo "==> $what: make proxy STACK=$STACK AWS_REGION=$AWS_REGION, then open http://127.0.0.1:8080/"
        echo "    (the URLs use AWS_IAM: a browser opening them directly gets {\"Message\":\"Forbidden\"};"
        echo "    the proxy signs each request with your credentials, docs/page.md)"
    else
        echo "==> $what: open $(stack_output NerFunctionUrl) in a browser (public URLs, auth NONE)"
    fi
}

invoke() {
    check_settings
    preflight invoke
    local ner_url qa_url auth=auto
    ner_url=$(stack_output NerFunctionUrl)
    qa_url=$(stack_output QaFunctionUrl)
    [[ -n $ner_url && $ner_url != None ]] ||
        die "stack $STACK has no NerFunctionUrl output: run 'make deploy STACK=$STACK' first."
    [[ $URL_AUTH == NONE ]] && auth=none
    # Design 1: both outputs are the front function's URL, which serves every path.
    echo "==> POST ${ner_url}ner"
    "$PY" -m tools.client ner "Ada Lovelace was born in London in 1815." --url "$ner_url" --auth "$auth"
    echo "==> POST ${qa_url}qa"
    "$PY" -m tools.client qa --question "Where was Ada Lovelace born?" \
        --context "Ada Lovelace was born in London in 1815." --url "$qa_url" --auth "$auth"
}

case ${1:-} in
deploy) deploy ;;
invoke) invoke ;;
# The Key=Value overrides a deploy would pass, one a line (tests check them against the template).
params)
    check_settings
    stack_parameters "${2:-}" "${3:-}" "${4:-}" | tr ' ' '\n'
    ;;
*) die "usage: scripts/deploy.sh deploy|invoke|params [NER_TAG QA_TAG [FRONT_TAG]]" ;;
esac

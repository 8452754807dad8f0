#!/usr/bin/env bash
# Deploy lambda-nlp to AWS, or call the deployed function URLs (docs/deploy.md).
#   scripts/deploy.sh deploy   repositories (first pass), build, push, functions (second pass)
#   scripts/deploy.sh invoke   one NER and one QA request through app.client
#   scripts/deploy.sh params   the template parameter overrides it would pass
# Settings come from the environment (mk/deploy.mk sets them): STACK, AWS_REGION, COLD_START,
# URL_AUTH, PULL_ACCOUNTS, CORS_ORIGINS, PROVISIONED, PARAMS, PY, NER_IMAGE, QA_IMAGE, MAKE.
set -euo pipefail

STACK=${STACK:-lambda-nlp}
COLD_START=${COLD_START:-none}
URL_AUTH=${URL_AUTH:-AWS_IAM}
PROVISIONED=${PROVISIONED:-1}
PY=${PY:-.venv/bin/python}
NER_IMAGE=${NER_IMAGE:-lambda-nlp/ner:latest}
QA_IMAGE=${QA_IMAGE:-lambda-nlp/qa:latest}
MAKE=${MAKE:-make}
TEMPLATE=template.yaml

die() {
    echo "error: $*" >&2
    exit 2
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
    # $1 $2: NER and QA image tags (empty in the first pass); PARAMS word-splits on purpose.
    # shellcheck disable=SC2206
    local extra=(${PARAMS:-})
    echo "RepositoryPrefix=$STACK" "NerImageTag=$1" "QaImageTag=$2" "ColdStartMode=$COLD_START" \
        "FunctionUrlAuthType=$URL_AUTH" "PullAccountIds=${PULL_ACCOUNTS:-}" \
        "CorsAllowOrigins=${CORS_ORIGINS:-}" "ProvisionedConcurrency=$PROVISIONED" "${extra[@]}"
}

cfn_deploy() {
    # `aws cloudformation deploy` runs the SAM transform server-side; nothing needs packaging
    # because both functions are images that this script has already pushed.
    local params
    read -r -a params <<<"$(stack_parameters "$1" "$2")"
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

deploy() {
    preflight deploy
    docker info >/dev/null 2>&1 || die "the Docker engine is not running: run 'make docker' first."
    local ner_repo qa_repo
    ner_repo=$(stack_output NerRepositoryUri)
    qa_repo=$(stack_output QaRepositoryUri)
    if [[ -z $ner_repo || $ner_repo == None || -z $qa_repo || $qa_repo == None ]]; then
        echo "==> first pass: ECR repositories only (no image tags yet)"
        cfn_deploy "" ""
        ner_repo=$(stack_output NerRepositoryUri)
        qa_repo=$(stack_output QaRepositoryUri)
    fi
    echo "==> building the images on the AWS base images"
    $MAKE images BASE=aws NER_IMAGE="$NER_IMAGE" QA_IMAGE="$QA_IMAGE"
    local ner_tag qa_tag
    ner_tag=$(image_tag "$NER_IMAGE")
    qa_tag=$(image_tag "$QA_IMAGE")
    aws ecr get-login-password | docker login --username AWS --password-stdin "${ner_repo%%/*}"
    push_image "$NER_IMAGE" "$ner_repo" "$ner_tag"
    push_image "$QA_IMAGE" "$qa_repo" "$qa_tag"
    echo "==> second pass: functions and URLs (ColdStartMode=$COLD_START, auth $URL_AUTH)"
    cfn_deploy "$ner_tag" "$qa_tag"
    echo "==> NER: $(stack_output NerFunctionUrl)"
    echo "==> QA:  $(stack_output QaFunctionUrl)"
    echo "==> try it: make invoke STACK=$STACK AWS_REGION=$AWS_REGION"
}

invoke() {
    preflight invoke
    local ner_url qa_url auth=auto
    ner_url=$(stack_output NerFunctionUrl)
    qa_url=$(stack_output QaFunctionUrl)
    [[ -n $ner_url && $ner_url != None ]] ||
        die "stack $STACK has no NerFunctionUrl output: run 'make deploy STACK=$STACK' first."
    [[ $URL_AUTH == NONE ]] && auth=none
    echo "==> POST ${ner_url}ner"
    "$PY" -m app.client ner "Ada Lovelace was born in London in 1815." --url "$ner_url" --auth "$auth"
    echo "==> POST ${qa_url}qa"
    "$PY" -m app.client qa --question "Where was Ada Lovelace born?" \
        --context "Ada Lovelace was born in London in 1815." --url "$qa_url" --auth "$auth"
}

case ${1:-} in
deploy) deploy ;;
invoke) invoke ;;
# The Key=Value overrides a deploy would pass, one a line (tests check them against the template).
params) stack_parameters "${2:-}" "${3:-}" | tr ' ' '\n' ;;
*) die "usage: scripts/deploy.sh deploy|invoke|params [NER_TAG QA_TAG]" ;;
esac

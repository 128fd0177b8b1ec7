#!/usr/bin/env bash
# Static checks of terraform/: formatting, tflint (terraform ruleset, preset
# "all"), tfsec (no HIGH or CRITICAL finding; every ignore gives a reason), and
# the Go tests that read the modules with hcl/v2, then terraform validate and
# terraform test where the hashicorp/aws provider is available locally (the
# registry is not reachable here; see terraform/README.md).
# Every check runs; the script fails at the end if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export CHECKPOINT_DISABLE=1
# A TF_CLI_CONFIG_FILE that points nowhere only adds a warning to every call.
if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -e "$TF_CLI_CONFIG_FILE" ]; then unset TF_CLI_CONFIG_FILE; fi

# Same pins as scripts/setup.sh --tools.
TFLINT_VERSION=v0.64.0
TFSEC_VERSION=v1.26.0
TOOLS="$PWD/.tools"
MODULE_DIRS=(common modules/valkey modules/chaos-schedule examples/minimal examples/complete)
failed=()

step() { printf '== %s\n' "$*"; }
pass() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; failed+=("$1"); }

ensure_tool() { # name module@version
  [ -x "$TOOLS/$1" ] && return 0
  step "building $1 into .tools/ (once; a few minutes on 2 cores)"
  mkdir -p "$TOOLS"
  GOBIN="$TOOLS" go install "$2"
}

# 1. terraform fmt
if command -v terraform >/dev/null 2>&1; then
  if out=$(terraform fmt -check -recursive -diff terraform 2>&1); then
    pass "terraform fmt"
  else
    printf '%s\n' "$out"
    fail "terraform fmt" "(run: terraform fmt -recursive terraform)"
  fi
else
  echo "SKIP terraform fmt: terraform not on PATH (install it, e.g. from releases.hashicorp.com, to check formatting)"
fi

# 2. tflint, bundled terraform ruleset, preset "all" (terraform/.tflint.hcl)
if ensure_tool tflint "github.com/terraform-linters/tflint@$TFLINT_VERSION"; then
  if out=$("$TOOLS/tflint" --chdir=terraform --recursive --config="$PWD/terraform/.tflint.hcl" --no-color 2>&1); then
    pass "tflint (${MODULE_DIRS[*]}): 0 issues"
  else
    printf '%s\n' "$out"
    fail "tflint"
  fi
else
  fail "tflint: could not build github.com/terraform-linters/tflint@$TFLINT_VERSION"
fi

# 3. tfsec: count findings per module; HIGH or CRITICAL fails
if ensure_tool tfsec "github.com/aquasecurity/tfsec/cmd/tfsec@$TFSEC_VERSION"; then
  for dir in "${MODULE_DIRS[@]}"; do
    args=(--no-color --soft-fail)
    # common is scanned with every optional part switched on.
    [ "$dir" = common ] && args+=(--tfvars-file terraform/tfsec-scan.tfvars)
    out=$("$TOOLS/tfsec" "terraform/$dir" "${args[@]}" 2>&1)
    count() { printf '%s\n' "$out" | awk -v k="$1" '$1 == k { print $2; exit }'; }
    summary="passed $(count passed), ignored $(count ignored), critical $(count critical), high $(count high), medium $(count medium), low $(count low)"
    if [ -z "$(count passed)" ]; then
      printf '%s\n' "$out"
      fail "tfsec $dir: no result summary"
    elif [ "$(count critical)" != 0 ] || [ "$(count high)" != 0 ]; then
      printf '%s\n' "$out"
      fail "tfsec $dir: $summary"
    else
      pass "tfsec $dir: $summary"
    fi
  done
else
  fail "tfsec: could not build github.com/aquasecurity/tfsec/cmd/tfsec@$TFSEC_VERSION"
fi

# Every tfsec ignore says why, on the same line.
bare=$(grep -rn --include='*.tf' 'tfsec:ignore:' terraform | awk '{
  line = $0; sub(/.*tfsec:ignore:[^ ]*/, "", line); gsub(/^[ \t]+|[ \t]+$/, "", line)
  if (split(line, words, /[ \t]+/) < 3) print $0 }')
if [ -n "$bare" ]; then
  printf '%s\n' "$bare"
  fail "tfsec ignores without a written reason"
else
  pass "tfsec ignores: $(grep -rc --include='*.tf' 'tfsec:ignore:' terraform | awk -F: '{ n += $2 } END { print n + 0 }') each with a reason"
fi

# 4. the modules read statically with hcl/v2
if go test -count=1 ./terraform; then
  pass "go test ./terraform"
else
  fail "go test ./terraform"
fi

# 5. terraform validate and terraform test (mocked AWS provider: real
# evaluation against the provider's schema, no AWS account). Both need the
# hashicorp/aws provider binary: from a local plugin directory (TF_PLUGIN_DIR,
# or /opt/tf-plugins when it holds one), since registry.terraform.io is not
# reachable here. Runs on a copy so no .terraform/ or lock file lands in the tree.
plugin_dir=${TF_PLUGIN_DIR:-/opt/tf-plugins}
if ! command -v terraform >/dev/null 2>&1; then
  echo "SKIP terraform validate/test: terraform not on PATH"
elif [ ! -d "$plugin_dir/registry.terraform.io/hashicorp/aws" ]; then
  echo "SKIP terraform validate/test: no hashicorp/aws provider in $plugin_dir and registry.terraform.io is not reachable (set TF_PLUGIN_DIR to a plugin directory, see terraform/README.md)"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  tar -C terraform --exclude=.terraform --exclude=.terraform.lock.hcl -cf - . | tar -C "$work" -xf -
  # One module per background job (each starts the provider several times);
  # results are printed in order afterwards.
  tf_module() { # dir -> prints "ok|FAIL <what>" lines, then the failing output
    local dir=$1 out
    if ! out=$(terraform -chdir="$work/$dir" init -backend=false -input=false -no-color -plugin-dir="$plugin_dir" 2>&1); then
      printf 'FAIL terraform init %s\n%s\n' "$dir" "$out"
      return
    fi
    # terraform test validates the whole configuration before its runs.
    if [ -d "$work/$dir/tests" ]; then
      if out=$(terraform -chdir="$work/$dir" test -no-color 2>&1); then
        echo "ok   terraform validate + test $dir: $(printf '%s\n' "$out" | sed -n 's/^Success! //p')"
      else
        printf 'FAIL terraform test %s\n%s\n' "$dir" "$out"
      fi
    elif out=$(terraform -chdir="$work/$dir" validate -no-color 2>&1); then
      echo "ok   terraform validate $dir"
    else
      printf 'FAIL terraform validate %s\n%s\n' "$dir" "$out"
    fi
  }
  for dir in "${MODULE_DIRS[@]}"; do
    tf_module "$dir" >"$work/${dir//\//_}.log" 2>&1 &
  done
  wait
  for dir in "${MODULE_DIRS[@]}"; do
    log="$work/${dir//\//_}.log"
    cat "$log"
    while read -r what; do failed+=("$what"); done < <(sed -n 's/^FAIL //p' "$log")
  done
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "terraform-check: ${#failed[@]} failed: ${failed[*]}"
  exit 1
fi
echo "terraform-check: all passed"

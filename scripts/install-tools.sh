#!/usr/bin/env bash
# Builds the tools the integration tests start, into ${FACEFLEET_TOOLS:-$HOME/.cache/facefleet-tools}/bin.
#
#   versitygw  S3-compatible server (posix backend) used by tools/harness/s3-server.ts (tests and the chaos suite)
#   helm       Helm 3 CLI used by test/integration/helm.test.ts (lint and template of charts/facefleet)
#
# Idempotent: a tool is built only when its binary is missing or was built from another version.
# Needs Go (https://go.dev/dl/) on PATH. Set FORCE=1 to rebuild anyway.
set -euo pipefail

VERSITYGW_MODULE="github.com/versity/versitygw"
VERSITYGW_VERSION="v1.8.0"
HELM_MODULE="helm.sh/helm/v3"
HELM_VERSION="v3.22.0"

TOOLS_DIR="${FACEFLEET_TOOLS:-$HOME/.cache/facefleet-tools}"
BIN_DIR="$TOOLS_DIR/bin"

log() { printf 'install-tools: %s\n' "$*" >&2; }

# The module version a Go binary was built from ("" when unknown).
built_version() {
  local binary="$1" module="$2"
  go version -m "$binary" 2>/dev/null | awk -v m="$module" '$1 == "mod" && $2 == m { print $3; exit }'
}

install_go_tool() {
  local name="$1" module="$2" package="$3" version="$4"
  local binary="$BIN_DIR/$name"
  if [[ -x "$binary" && "${FORCE:-0}" != "1" ]]; then
    local have
    have="$(built_version "$binary" "$module")"
    if [[ "$have" == "$version" ]]; then
      log "$name $version already installed at $binary"
      return 0
    fi
    log "$name at $binary was built from '${have:-unknown}', want $version: rebuilding"
  fi
  log "building $package@$version into $BIN_DIR"
  GOBIN="$BIN_DIR" go install "$package@$version"
  log "installed $binary ($(built_version "$binary" "$module"))"
}

if ! command -v go >/dev/null 2>&1; then
  log "Go is required to build the test tools; install it from https://go.dev/dl/ and re-run $0"
  exit 1
fi

mkdir -p "$BIN_DIR"
install_go_tool versitygw "$VERSITYGW_MODULE" "$VERSITYGW_MODULE/cmd/versitygw" "$VERSITYGW_VERSION"
install_go_tool helm "$HELM_MODULE" "$HELM_MODULE/cmd/helm" "$HELM_VERSION"

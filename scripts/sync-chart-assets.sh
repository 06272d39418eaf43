#!/usr/bin/env bash
# Copies the alert rules and the Grafana dashboard into the Helm chart, which can only read files
# inside its own folder. The sources stay the one place to edit:
#
#   prometheus-rules/facefleet.rules.yml -> charts/facefleet/files/facefleet.rules.yml (with a header)
#   dashboards/facefleet.json            -> charts/facefleet/files/facefleet-dashboard.json (verbatim)
#
# --check compares instead of copying and exits 1 when a copy differs from its source (the same
# comparison test/integration/helm.test.ts makes). A missing source is reported and skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

FILES_DIR="charts/facefleet/files"
mode="${1:-sync}"
status=0

log() { printf 'sync-chart-assets: %s\n' "$*" >&2; }

# The expected content of a copy: the source, preceded by a header when the format has comments.
expected() {
  local source="$1" header="$2"
  if [[ -n "$header" ]]; then printf '%s\n' "$header"; fi
  cat "$source"
}

sync_one() {
  local source="$1" target="$2" header="$3"
  if [[ ! -f "$source" ]]; then
    log "$source does not exist yet: $target not written"
    return 0
  fi
  if [[ "$mode" == "--check" ]]; then
    if ! expected "$source" "$header" | cmp -s - "$target"; then
      log "$target differs from $source: run scripts/sync-chart-assets.sh"
      status=1
    fi
  else
    mkdir -p "$(dirname "$target")"
    expected "$source" "$header" >"$target"
    log "wrote $target"
  fi
}

sync_one prometheus-rules/facefleet.rules.yml "$FILES_DIR/facefleet.rules.yml" \
  "# generated from prometheus-rules/facefleet.rules.yml by scripts/sync-chart-assets.sh — do not edit"
sync_one dashboards/facefleet.json "$FILES_DIR/facefleet-dashboard.json" ""
exit "$status"

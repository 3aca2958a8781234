#!/usr/bin/env bash
# One entry point for a fresh machine:  deploy/dev.sh demo | deploy/dev.sh test [pytest args]
# Sets up what is missing (venv, Python packages, Java + Maven, PostgreSQL), then runs the job.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "error: $* missing and not root; install with: sudo apt-get install -y $*" >&2
    exit 1
  fi
  say "apt-get install $*"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

python_env() {
  local py=${PYTHON:-python3}
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "error: Python 3.11+ is needed ($py is $("$py" -V 2>&1))" >&2; exit 1; }
  [ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$py" -m venv "$VENV"; }
  # Reinstall only when pyproject.toml changed since the last install.
  local stamp=$VENV/.soc-installed want
  want=$(sha256sum pyproject.toml | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing Python packages (pinned in pyproject.toml)"
    if ! { "$VENV/bin/python" -m pip install -q --upgrade pip &&
           "$VENV/bin/python" -m pip install -q -e ".[dev]"; } >"$VENV/pip.log" 2>&1; then
      tail -n 30 "$VENV/pip.log" >&2
      echo "error: pip install failed (full log: $VENV/pip.log)" >&2
      exit 1
    fi
    echo "$want" >"$stamp"
  fi
}

test_parts() {
  # javac too: the tests build a small analysis plugin for the Elasticsearch node (soc/engine/elastic.py)
  command -v java >/dev/null && command -v javac >/dev/null && command -v mvn >/dev/null || apt_install default-jdk-headless maven
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || apt_install postgresql
  command -v chromium >/dev/null || apt_install chromium  # headless browser tests (Playwright drives Debian Chromium)
  [ -x /usr/sbin/nginx ] || apt_install nginx-light  # tests check deploy/nginx/soc.conf with nginx -t
  ldconfig -p | grep -q 'libpcap\.so' || apt_install libpcap0.8  # scapy compiles BPF filters with it
  say "resolving the OpenSearch node and Elasticsearch through Maven (cached after the first time)"
  "$VENV/bin/soc" engine classpath
  "$VENV/bin/python" -c 'from soc.engine import elastic; print("Elasticsearch:", elastic.distribution())'

}

case "${1:-}" in
  demo)
    shift
    python_env
    exec "$VENV/bin/soc" demo "$@"
    ;;
  test)
    shift
    python_env
    test_parts
    say "ruff"
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    say "mypy --strict"
    "$VENV/bin/mypy"
    say "pytest (starts real OpenSearch and Elasticsearch nodes and a PostgreSQL server)"
    exec "$VENV/bin/pytest" "$@"
    ;;
  *)
    echo "usage: deploy/dev.sh demo [soc demo options] | deploy/dev.sh test [pytest options]" >&2
    exit 2
    ;;
esac

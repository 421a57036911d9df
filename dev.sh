#!/usr/bin/env bash
# Nagar's two entry points on a fresh machine:
#   bash dev.sh demo   install into .venv, build the demo data, serve the dashboard on http://127.0.0.1:8000/
#   bash dev.sh test   install into .venv (with test extras and Chromium for the browser test), run the suite
#                      on two workers (NAGAR_TEST_WORKERS=0: serially)
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
VENV=.venv

ensure_venv() {
  if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    echo "Nagar needs Python 3.11 or newer; $("$PY" --version) found (set PYTHON=...)." >&2
    exit 1
  fi
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  local extras=$1 stamp="$VENV/.installed-$1"
  local want
  want=$(sha256sum pyproject.toml | cut -c1-16)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    # (this machine's pip configuration names local indexes that may be absent: hide those warnings)
    "$VENV/bin/python" -m pip install --quiet --upgrade pip 2> >(grep -v "WARNING: Location" >&2)
    # (PYTHONWARNINGS reaches the build backend: setuptools' "Editable installation" notice is not for users)
    PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install --quiet -e ".$extras" 2> >(grep -v "WARNING: Location" >&2)
    echo "$want" > "$stamp"
  fi
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's chromium for the browser test..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "could not install chromium; the browser test will be skipped" >&2
  fi
}

ensure_real_parts() {
  # the tests start their own PostgreSQL, Mosquitto and Spark (Java): make sure the binaries are here
  local want=()
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
  command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || want+=(mosquitto)
  command -v java >/dev/null 2>&1 || want+=(default-jre-headless)
  if [ ${#want[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing ${want[*]} for the tests that start real servers..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null) \
      || echo "could not install ${want[*]}; those tests will be skipped" >&2
  fi
}

case "${1:-}" in
  demo)
    ensure_venv "[demo]"
    shift
    exec "$VENV/bin/nagar" demo "$@"
    ;;
  test)
    ensure_venv "[test,bench,spark]"
    ensure_chromium
    ensure_real_parts
    shift
    # two workers (pytest-xdist): the suite takes about half the time of a serial run on 2 cores;
    # NAGAR_TEST_WORKERS=0 runs it serially
    exec "$VENV/bin/python" -m pytest -q -n "${NAGAR_TEST_WORKERS:-2}" "$@"
    ;;
  *)
    echo "usage: bash dev.sh demo | test" >&2
    exit 64
    ;;
esac

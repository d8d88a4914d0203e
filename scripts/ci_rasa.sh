#!/usr/bin/env bash
# Prepare the Rasa 3.6 integration test (tests/nlu/test_rasa_server.py) for CI.
#
#   eval "$(bash scripts/ci_rasa.sh)"
#
# Finds a Python 3.10 interpreter (open-source Rasa needs Python < 3.11), creates or reuses a
# virtualenv outside the repository with Rasa 3.6, and prints on standard output the `export`
# lines for the test run: FRONTDESK_RASA_PYTHON when Rasa is ready, FRONTDESK_RASA_SKIP_REASON
# when it is not (the test is then skipped with that reason). Progress and problems go to
# standard error. It always exits 0: an install hiccup is loud (a banner here and the skip
# reason in pytest's summary) but does not fail the build; see docs/rasa.md.
#
# Environment: FRONTDESK_RASA_VENV (default ~/.cache/frontdesk/rasa-venv),
# FRONTDESK_RASA_BASE_PYTHON (a Python 3.10 to use), FRONTDESK_RASA_INSTALL_TIMEOUT (seconds,
# default 1200).
set -uo pipefail

VENV="${FRONTDESK_RASA_VENV:-$HOME/.cache/frontdesk/rasa-venv}"
TIMEOUT="${FRONTDESK_RASA_INSTALL_TIMEOUT:-1200}"
SPEC='rasa==3.6.*'
LOG="$(dirname "$VENV")/rasa-install.log"

say() { echo "$*" >&2; }

skip() {
  say ""
  say "!!! Rasa integration test skipped: $1"
  say ""
  printf 'export FRONTDESK_RASA_SKIP_REASON=%q\n' "$1"
  exit 0
}

is_python310() {
  [ -n "$1" ] && [ -x "$1" ] &&
    "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1
}

find_python310() {  # an explicit one, then pyenv's (not its shims), then python3.10 on PATH
  local root="${PYENV_ROOT:-$HOME/.pyenv}" candidate
  for candidate in "${FRONTDESK_RASA_BASE_PYTHON:-}" \
    $(ls -d "$root"/versions/3.10.*/bin/python 2>/dev/null | sort -rV) \
    "$(command -v python3.10 2>/dev/null)"; do
    is_python310 "$candidate" && { echo "$candidate"; return 0; }
  done
  return 1
}

rasa_ready() {  # the venv has Rasa 3.6 and its heavy dependencies import
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" - <<'PY' >/dev/null 2>&1
import importlib.metadata as m
assert m.version("rasa").startswith("3.6."), m.version("rasa")
import rasa.version, sklearn, tensorflow  # noqa: F401
PY
}

say "--- Rasa integration test: preparing Rasa 3.6 in $VENV"
BASE="$(find_python310)" || skip "no Python 3.10 interpreter (open-source Rasa 3.6 needs Python < 3.11)"
say "using $BASE ($("$BASE" --version 2>&1))"

if rasa_ready; then
  say "reusing the Rasa virtualenv ($("$VENV/bin/python" -c 'import importlib.metadata as m; print("rasa", m.version("rasa"))'))"
else
  mkdir -p "$(dirname "$VENV")"
  free_kb="$(df -Pk "$(dirname "$VENV")" | awk 'NR==2 {print $4}')"
  if [ "${free_kb:-0}" -lt $((5 * 1024 * 1024)) ]; then
    skip "less than 5 GB free for the Rasa virtualenv (it takes about 2.7 GB)"
  fi
  started=$SECONDS
  say "installing $SPEC (about 2.7 GB with TensorFlow; timeout ${TIMEOUT}s; log: $LOG)"
  if ! "$BASE" -m venv --clear "$VENV" >"$LOG" 2>&1; then
    tail -n 5 "$LOG" >&2
    skip "could not create the virtualenv $VENV with $BASE (see $LOG)"
  fi
  timeout "$TIMEOUT" "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$SPEC" \
    >>"$LOG" 2>&1
  status=$?
  if [ "$status" -ne 0 ]; then
    say "pip install $SPEC failed with exit $status; the end of $LOG:"
    grep -v "is ignored: it is neither a file nor a directory" "$LOG" | tail -n 15 >&2
    [ "$status" -eq 124 ] && skip "installing $SPEC timed out after ${TIMEOUT}s (see $LOG)"
    skip "installing $SPEC failed with exit $status (see $LOG)"
  fi
  rasa_ready || skip "$SPEC installed but does not import (see $LOG)"
  say "installed Rasa in $((SECONDS - started))s"
fi

printf 'export FRONTDESK_RASA_PYTHON=%q\n' "$VENV/bin/python"

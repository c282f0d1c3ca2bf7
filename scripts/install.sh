#!/usr/bin/env bash
# Create .venv with Python 3.10 and install the locked dependency set. Idempotent:
# does nothing when requirements.lock and pyproject.toml have not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.installed"
UV_VERSION=0.9.5
WANT="$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)"

find_python() {
  local candidates=()
  if command -v pyenv >/dev/null 2>&1; then
    candidates+=("$(pyenv prefix 3.10 2>/dev/null)/bin/python3.10")
  fi
  candidates+=(python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10)
  for c in "${candidates[@]}"; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  return 1
}

if [[ -x "$VENV/bin/python" ]] && ! "$VENV/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
  echo "install: $VENV uses $("$VENV/bin/python" --version 2>&1); Rasa 3.6 needs Python 3.10. Recreating it." >&2
  rm -rf "$VENV"
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  if ! PY="$(find_python)"; then
    found="$(python3 --version 2>&1 || echo 'no python3')"
    cat >&2 <<MSG
install: Python 3.10 is required (Rasa 3.6.21 supports 3.8-3.10; on 3.11+ pip silently picks
an ancient Rasa). Found only: $found.
Install it, e.g. 'pyenv install 3.10' (the .python-version file then selects it) or
'apt-get install python3.10 python3.10-venv', and run this again.
MSG
    exit 1
  fi
  echo "install: creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  exit 0
fi
echo "install: installing the locked dependencies (first time: several minutes, ~8 GB)"
"$VENV/bin/python" -m pip install -q --upgrade "pip<25" "wheel<0.46" "uv==$UV_VERSION"
# uv installs the same pinned set as pip, downloading in parallel: 95 s instead of pip's 13.8 min
# for this lock on an empty cache (2 cores). Its cache: UV_CACHE_DIR, else ~/.cache/uv.
"$VENV/bin/uv" pip install -q --python "$VENV/bin/python" -r requirements.lock
"$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
echo "$WANT" > "$STAMP"
echo "install: done"

#!/usr/bin/env bash
# System packages the tests need: PostgreSQL (hand-off and tracker store tests, the cluster), Redis and
# nginx (the cluster: shared locks, socket.io across nodes, the load balancer) and Chromium (browser
# tests; Playwright's own browser download does not work offline). Installs what is missing
# with apt-get when it can (root, or passwordless sudo); otherwise says what to install.
set -euo pipefail

have_postgres() {
  command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

missing=()
have_postgres || missing+=(postgresql)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[[ -x /usr/sbin/nginx ]] || command -v nginx >/dev/null 2>&1 || missing+=(nginx)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo -n"
  echo "system-deps: installing ${missing[*]}"
  if $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || \
     { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    exit 0
  fi
fi
echo "system-deps: could not install ${missing[*]}; install it yourself (e.g. apt-get install ${missing[*]})." >&2
echo "system-deps: without it the PostgreSQL, cluster and browser tests are skipped (and fail under CI=true)." >&2
[[ -n "${CI:-}" ]] && exit 1 || exit 0

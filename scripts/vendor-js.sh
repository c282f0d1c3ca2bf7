#!/usr/bin/env bash
# Refresh the vendored browser libraries from npm (js-vendor/package-lock.json pins them, with integrity).
# The copies are committed, so running the bot or its tests needs no npm:
#   bot/web/static/vendor/  the widget's and pages' libraries (served to browsers)
#   tests/e2e/vendor/       axe-core, for the browser tests' accessibility checks only (never served)
set -euo pipefail
cd "$(dirname "$0")/../js-vendor"
npm ci --no-audit --no-fund

copy() {  # copy <out dir> <package> <file in the package>...
  local out=$1 pkg=$2; shift 2
  mkdir -p "$out"
  for file in "$@"; do cp "node_modules/$pkg/$file" "$out/"; done
  for name in LICENSE LICENSE.md LICENSE.txt license; do
    if [[ -f "node_modules/$pkg/$name" ]]; then cp "node_modules/$pkg/$name" "$out/LICENSE.$pkg"; break; fi
  done
}
versions() {  # versions <out dir> <package>...: what the lock pinned, for a reader of that directory
  local out=$1; shift
  node -e 'const l=require("./package-lock.json").packages; for (const p of process.argv.slice(1)) console.log(p, l["node_modules/"+p].version)' "$@" > "$out/VERSIONS"
  cat "$out/VERSIONS"
}

web=../bot/web/static/vendor
copy "$web" socket.io-client dist/socket.io.min.js
copy "$web" marked lib/marked.umd.js
copy "$web" dompurify dist/purify.min.js
copy "$web" chart.js dist/chart.umd.min.js
versions "$web" socket.io-client marked dompurify chart.js

tests=../tests/e2e/vendor
copy "$tests" axe-core axe.min.js
versions "$tests" axe-core

#!/usr/bin/env bash
# Refresh the widget's vendored browser libraries from npm (js-vendor/package-lock.json pins them).
# The copies in bot/web/static/vendor/ are committed, so running the bot needs no npm.
set -euo pipefail
cd "$(dirname "$0")/../js-vendor"
npm ci --no-audit --no-fund
out=../bot/web/static/vendor
mkdir -p "$out"
cp node_modules/socket.io-client/dist/socket.io.min.js "$out/"
cp node_modules/marked/lib/marked.umd.js "$out/"
cp node_modules/dompurify/dist/purify.min.js "$out/"
for pkg in socket.io-client marked dompurify; do
  for name in LICENSE LICENSE.md license; do
    if [[ -f "node_modules/$pkg/$name" ]]; then cp "node_modules/$pkg/$name" "$out/LICENSE.$pkg"; break; fi
  done
done
node -e 'const l=require("./package-lock.json").packages; for (const p of ["socket.io-client","marked","dompurify"]) console.log(p, l["node_modules/"+p].version)' > "$out/VERSIONS"
cat "$out/VERSIONS"

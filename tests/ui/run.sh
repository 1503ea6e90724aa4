#!/bin/sh
# Browser tests of the web UI (docs/ui.md). Exit code: the tests' result.
# Needs custosd and custosctl in CUSTOS_BIN_DIR (default build/bin) and
# Debian's /usr/bin/chromium. Installs playwright-core from the lock file
# the first time.
set -e
cd "$(dirname "$0")"
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test --test-concurrency=1 ui_flow.test.mjs ui_retention.test.mjs ui_isolation.test.mjs ui_verification.test.mjs ui_second_factor.test.mjs ui_search.test.mjs ui_home.test.mjs ui_phone.test.mjs ui_preview.test.mjs ui_catalogue.test.mjs

#!/usr/bin/env bash
# Browser tests of the explorer in a real headless Chromium (Debian's `chromium`, with
# `chromium-driver`): installs them when missing, installs playwright-core from the pinned
# package-lock.json (npm ci), builds the release `cartox` binary the tests compare against, then
# runs node's test runner on web/test/*.test.js. Expects web/dist/ (run web/build.sh first).
# Screenshots go to plots/ (the gallery).
set -euo pipefail
cd "$(dirname "$0")"

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v chromedriver >/dev/null || [ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ -f dist/index.html ] || { echo "web/dist/ is missing: run web/build.sh first" >&2; exit 1; }

npm ci --no-audit --no-fund --silent
(cd .. && cargo build --release --locked --quiet)
export CARTOX_BIN=${CARTOX_BIN:-$PWD/../target/release/cartox}
node --test --test-concurrency=1 test/*.test.js

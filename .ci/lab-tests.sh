#!/usr/bin/env bash
# Front-end tests of jupyter_twin, called by .ci/run (scripts/test.sh) after pytest:
#   1. Jest: the TypeScript logic (labextension/test)
#   2. Galata/Playwright in Debian's Chromium against a real Jupyter server with the
#      embedded model (ui-tests/). Playwright's webServer starts and stops that server.
# Ends with one line "lab-tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$ROOT/.venv/bin:$PATH"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export CI=${CI:-true}

if [ ! -x /usr/bin/chromium ]; then
  (apt-get update -q && apt-get install -y -q chromium) >/dev/null || { echo "cannot install chromium"; exit 1; }
fi

# the built extension (scripts/setup.sh's editable install runs the hatch build hook)
if [ ! -f jupyter_twin/labextension/static/style.js ]; then
  (cd labextension && jlpm install && jlpm build) || { echo "lab-tests: labextension build failed"; exit 1; }
fi
jupyter labextension develop --overwrite . >/dev/null 2>&1 || true
labext=$(jupyter labextension list 2>&1)
grep -q "jupyter-twin.*enabled" <<<"$labext" || { echo "$labext"; echo "lab-tests: jupyter-twin is not installed in JupyterLab"; exit 1; }
serverext=$(jupyter server extension list 2>&1)
grep -q "jupyter_twin.*enabled" <<<"$serverext" || { echo "$serverext"; echo "lab-tests: the jupyter_twin server extension is not enabled"; exit 1; }

status=0
RESULTS=$(mktemp -d)

# 1. Jest
(cd labextension && { [ -d node_modules ] || jlpm install; } && jlpm jest --ci --json --outputFile="$RESULTS/jest.json") || status=1

# 2. Galata
(cd ui-tests && jlpm install >/dev/null && \
  PLAYWRIGHT_JSON_OUTPUT_NAME="$RESULTS/galata.json" jlpm playwright test --reporter=list,json) || status=1

node - "$RESULTS" <<'JS'
const fs = require('fs');
const dir = process.argv[2];
let passed = 0, failed = 0;
try {
  const j = JSON.parse(fs.readFileSync(`${dir}/jest.json`, 'utf8'));
  passed += j.numPassedTests; failed += j.numFailedTests + (j.numRuntimeErrorTestSuites || 0);
  if (j.numTotalTests === 0) { failed += 1; }
  console.log(`jest: ${j.numPassedTests} passed, ${j.numFailedTests} failed`);
} catch (e) { failed += 1; console.log('jest: no results'); }
try {
  const g = JSON.parse(fs.readFileSync(`${dir}/galata.json`, 'utf8'));
  const s = g.stats || {};
  const gp = (s.expected || 0) + (s.flaky || 0);
  let gf = (s.unexpected || 0) + (s.skipped || 0);
  if (gp + gf === 0 || (g.errors || []).length) { gf += 1; }  // no test ran, or the suite did not load
  passed += gp; failed += gf;
  console.log(`galata: ${gp} passed, ${gf} failed`);
} catch (e) { failed += 1; console.log('galata: no results'); }
console.log(`lab-tests: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
JS
[ $? -eq 0 ] || status=1
exit $status

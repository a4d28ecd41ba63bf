#!/usr/bin/env bash
# The long fuzz run, on demand (CI runs tests/test_fuzz.py with a few hundred examples).
#
#   fuzz/run.sh [EXAMPLES_PER_PROPERTY] [ATHERIS_SECONDS]
#
# 1. tests/test_fuzz.py with CALICO_AUDIT_FUZZ_EXAMPLES examples per property (default 20000),
#    random rather than derandomized;
# 2. the atheris harness for ATHERIS_SECONDS (default 600), if atheris is installed
#    (`pip install atheris`), with crashes and hangs (-timeout=10) saved under fuzz/findings/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
EXAMPLES=${1:-${CALICO_AUDIT_FUZZ_EXAMPLES:-20000}}
ATHERIS_SECONDS=${2:-600}

started=$(date +%s)
echo "== hypothesis: $EXAMPLES examples per property"
status=0
CALICO_AUDIT_FUZZ_EXAMPLES=$EXAMPLES "$PY" -m pytest -q -p no:cacheprovider tests/test_fuzz.py \
  --hypothesis-show-statistics || status=$?
echo "== hypothesis done in $(( $(date +%s) - started )) s (exit $status)"

if [ "$ATHERIS_SECONDS" -gt 0 ]; then
  if "$PY" -c "import atheris" 2>/dev/null; then
    mkdir -p fuzz/findings fuzz/corpus-atheris
    echo "== atheris: $ATHERIS_SECONDS s"
    "$PY" fuzz/atheris_audit.py -max_total_time="$ATHERIS_SECONDS" -timeout=10 -rss_limit_mb=4096 -max_len=4096 \
      -artifact_prefix=fuzz/findings/ -print_final_stats=1 fuzz/corpus-atheris || status=$?
  else
    echo "== atheris is not installed (pip install atheris): skipped"
  fi
fi
echo "== total $(( $(date +%s) - started )) s (exit $status)"
exit "$status"

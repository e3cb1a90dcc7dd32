#!/usr/bin/env bash
# The fuzz step of tools/test.sh: builds the harnesses with clang into
# build-fuzz (-Dfuzz=true), makes their seed corpora there and runs meson's
# suite 'fuzz': per harness, every seed, regression input and finding once
# (fuzz-HARNESS-regress), then 60 s of fresh fuzzing (fuzz-HARNESS-fresh),
# two at a time.  Results land in build-fuzz/meson-logs/testlog.json.
#
#   tests/fuzz/run.sh [TEST...]     (default: the whole suite)
#
# FUZZ_SECONDS changes the fresh fuzzing time.  tests/fuzz/README.md says more.
set -euo pipefail
cd "$(dirname "$0")/../.."

for t in clang meson ninja; do
	command -v $t >/dev/null || { echo "fuzz: $t is not installed (Debian: tools/setup.sh --for-tests)" >&2; exit 1; }
done
# Warnings are errors in the gcc build (tools/test.sh); clang warns about other
# things, and a clang-only warning must not stop the fuzzing: it is shown here.
if [[ ! -f build-fuzz/build.ninja ]]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false >/dev/null
fi
ninja -C build-fuzz | { grep -E 'warning:' || true; }
rm -f build-fuzz/meson-logs/testlog.json
# The normal build's tsmedia makes the seeds quicker than the sanitized one.
[[ -x build/tools/tsmedia ]] && export TSMEDIA=${TSMEDIA:-$PWD/build/tools/tsmedia}
tests/fuzz/make-corpus.sh build-fuzz/tests/fuzz/corpus
if (($#)); then
	exec meson test -C build-fuzz --print-errorlogs --num-processes 2 "$@"
fi
exec meson test -C build-fuzz --suite fuzz --print-errorlogs --num-processes 2

#!/usr/bin/env bash
# Sets everything up and runs every test: the unit tests and the
# integration tests on a -Dwerror=true build, then the unit tests again
# under AddressSanitizer and UndefinedBehaviorSanitizer, then the fuzz
# harnesses (tests/fuzz/run.sh).  Ends with the line
# "N passed, N failed"; exits non-zero when anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh --for-tests

status=0
meson test -C build --print-errorlogs --num-processes 2 || status=$?

if [[ ! -f build-asan/build.ninja ]]; then
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debug -Dwerror=true >/dev/null
fi
ninja -C build-asan >/dev/null
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --suite unit --print-errorlogs || status=$?

# The fuzz harnesses (clang, libFuzzer): every seed, regression input and
# finding once, then 60 s of fresh fuzzing each (tests/fuzz/README.md).
tests/fuzz/run.sh || status=$?

# Count over the three runs from meson's machine-readable logs.
count_status=0
python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
	build-fuzz/meson-logs/testlog.json <<'PY' || count_status=$?
import json, os, sys
passed = failed = skipped = 0
skips = []
for path in sys.argv[1:]:
    if not os.path.exists(path):
        # A run that never got to its tests (a build that failed) counts.
        print(f"no results in {path}: that run failed before its tests")
        failed += 1
        continue
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            r = t["result"]
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
                skips.append(t["name"])
            else:
                failed += 1
if skipped:
    print(f"SKIPPED ({skipped}): {', '.join(skips)}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
exit $((status || count_status))

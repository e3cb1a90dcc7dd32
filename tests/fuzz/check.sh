#!/usr/bin/env bash
# One harness, one way (registered by tests/fuzz/meson.build, suite 'fuzz'):
#
#   check.sh EXE HARNESS regress   every seed (corpus/HARNESS; each must also be
#                                  accepted by the parser), every committed
#                                  regression input (regress/HARNESS) and every
#                                  finding of ../shared/findings for HARNESS, once
#                                  each, in its own process; lists each that fails
#   check.sh EXE HARNESS fresh     60 s of fuzzing from the seeds (FUZZ_SECONDS)
#
# Environment (from meson.build): FUZZ_CORPUS, FUZZ_ARTIFACTS, FUZZ_REGRESS,
# FUZZ_FINDINGS.
#
# Limits: -rss_limit_mb=2048 (libFuzzer's default, made explicit; a single
# malloc above it is a finding too) catches the gigabyte blow-ups without
# counting ASan's own overhead (its quarantine alone is 256 MB) against the
# parser; -timeout=10 is the issue's 2 s budget with room for the sanitizers'
# 2-3x slow-down on a shared machine, and still catches the minutes-long
# hangs and the quadratic XML (8 s without sanitizers).
set -uo pipefail
exe=$1 harness=$2 mode=$3
corpus=$FUZZ_CORPUS/$harness
limits=(-rss_limit_mb=2048 -timeout=10)
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

if [[ ! -d $corpus ]] || [[ -z $(ls -A "$corpus") ]]; then
	echo "no seed corpus in $corpus: run tests/fuzz/make-corpus.sh $FUZZ_CORPUS first" >&2
	exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tsmedia-fuzz-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# why LOG: what libFuzzer or a sanitizer said went wrong.
why() {
	local m
	m=$(grep -Eo '(ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error|^fuzz): .*' "$1" | head -1 | cut -c1-160)
	echo "${m:-exit status $2, see the log above}"
}

case $mode in
regress)
	inputs=("$corpus"/*)
	# Committed regression inputs; NAME.gz (an image mostly zeros) is run decompressed.
	for in in "$FUZZ_REGRESS/$harness"/*; do
		[[ -f $in ]] || continue
		if [[ $in == *.gz ]]; then
			gzip -dc "$in" >"$tmp/regress-$(basename "$in" .gz)"
			inputs+=("$tmp/regress-$(basename "$in" .gz)")
		else
			inputs+=("$in")
		fi
	done
	# The findings each harness covers (../shared/findings/README.md).
	if [[ -d $FUZZ_FINDINGS ]]; then
		f=$FUZZ_FINDINGS
		case $harness in
		iso)
			if [[ -f $f/iso-udf-toctou/A.iso.gz ]]; then
				# The race itself needs two processes (its repro.sh); the image before
				# and after the rewrite are each imported whole here.
				gzip -dc "$f/iso-udf-toctou/A.iso.gz" >"$tmp/iso-udf-toctou-A.iso"
				cp "$tmp/iso-udf-toctou-A.iso" "$tmp/iso-udf-toctou-A+B-sector262.iso"
				dd if="$f/iso-udf-toctou/B-sector262.bin" of="$tmp/iso-udf-toctou-A+B-sector262.iso" \
					conv=notrunc bs=2048 seek=262 count=1 status=none
				inputs+=("$tmp"/iso-udf-toctou-*.iso)
			fi ;;
		wim) inputs+=("$f"/wim/*) ;;
		winpe) inputs+=("$f"/wim/*) ;;
		ts_xml)
			for g in "$f"/tsxml/*.xml.gz; do
				[[ -f $g ]] || continue
				gzip -dc "$g" >"$tmp/$(basename "$g" .gz)"
				inputs+=("$tmp/$(basename "$g" .gz)")
			done ;;
		cert)
			inputs+=("$f"/pkcs12/*.p12)
			if [[ -f $f/pkcs12/password.txt && $(head -1 "$f/pkcs12/password.txt") != fuzzpw ]]; then
				echo "WARNING: $f/pkcs12/password.txt is not the harness's password (fuzzpw)"
			fi ;;
		cmdata)
			# The crafted PKCS#12 files as the media certificate of a media
			# anyone made (mode 0x08: a media GUID, then the PKCS#12).
			for g in "$f"/pkcs12/*.p12; do
				[[ -f $g ]] || continue
				{ printf '\x088AE6B618-77EC-46CB-B1B5-88F693E0B1C2'; cat "$g"; } >"$tmp/media-pfx-$(basename "$g")"
				inputs+=("$tmp/media-pfx-$(basename "$g")")
			done ;;
		inspect)
			# The 4 GiB case needs its file extended to 4.3 GB (a test of the
			# hostile-input suite); here its first 77 KB are inspected as they are.
			inputs+=("$f"/inspect/*) ;;
		esac
	else
		echo "SKIPPED: no findings at $FUZZ_FINDINGS (../shared beside the checkout): only the seeds and regress/$harness run"
	fi
	failed=0 n=0
	for in in "${inputs[@]}"; do
		[[ -f $in ]] || continue
		n=$((n + 1))
		start=${EPOCHREALTIME/./}
		# A seed must also be accepted: the harness still reaches the parser.
		[[ $in == "$corpus"/* ]] && valid=1 || valid=0
		# (Malloc stacks through libraries without frame pointers stop early:
		# rerun one input with ASAN_OPTIONS=fast_unwind_on_malloc=0 to see them;
		# not here, where it makes OpenSSL's PBKDF2, a malloc per round, 40x slower.)
		TSM_FUZZ_EXPECT_VALID=$valid "$exe" "${limits[@]}" "$in" >"$tmp/log" 2>&1
		rc=$?
		ms=$(((${EPOCHREALTIME/./} - start) / 1000))
		secs=$((ms / 1000)).$(((ms % 1000) / 100))
		in=${in/#$tmp\/regress-/(decompressed) $FUZZ_REGRESS\/$harness\/}
		in=${in/#$tmp\//(made from ../shared/findings) }
		if ((rc == 0)); then
			printf 'ok    %5s s  %s\n' "$secs" "$in"
		else
			failed=$((failed + 1))
			printf 'FAIL  %5s s  %s: %s\n' "$secs" "$in" "$(why "$tmp/log" $rc)"
			sed -n '/ERROR\|runtime error\|^fuzz: /,$p' "$tmp/log" | head -40 | sed 's/^/    /'
		fi
	done
	echo "$harness regress: $((n - failed)) of $n inputs ok"
	((failed == 0)) ;;
fresh)
	mkdir -p "$FUZZ_ARTIFACTS/$harness" "$tmp/corpus"
	"$exe" "${limits[@]}" -max_total_time="${FUZZ_SECONDS:-60}" -print_final_stats=1 \
		-artifact_prefix="$FUZZ_ARTIFACTS/$harness/" "$tmp/corpus" "$corpus" >"$tmp/log" 2>&1
	rc=$?
	grep -E '^#[0-9]+' "$tmp/log" | tail -1
	grep -E '^stat::' "$tmp/log"
	if ((rc != 0)); then
		sed -n '/ERROR\|runtime error\|^fuzz: /,$p' "$tmp/log" | head -60
		echo "$harness fresh: FAILED: $(why "$tmp/log" $rc)"
		echo "the input is in $FUZZ_ARTIFACTS/$harness/; to keep it, see tests/fuzz/README.md (minimize, then regress/$harness/)"
		exit 1
	fi
	echo "$harness fresh: no crash, hang or OOM in ${FUZZ_SECONDS:-60} s" ;;
*)
	echo "usage: check.sh EXE HARNESS regress|fresh" >&2
	exit 2 ;;
esac

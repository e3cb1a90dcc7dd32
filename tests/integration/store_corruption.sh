#!/usr/bin/env bash
# A flipped byte in a pack: verify names the chunk, the pack and every content
# ID affected; reading the damaged file fails and never yields wrong bytes;
# everything else still reads back.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KiB=1024
MiB=$((1024 * 1024))

# Two trees that share one file (shared.bin).
SRCA=$WORK/a
SRCB=$WORK/b
mkdir -p "$SRCA/x" "$SRCB/y"
randfile "$SRCA/a_big1.bin" $((3 * MiB + 5))
randfile "$SRCA/x/a_big2.bin" $((2 * MiB + 77))
randfile "$SRCA/shared.bin" $((2 * MiB))
for i in 1 2 3 4 5; do randfile "$SRCA/x/a_small$i.bin" $((i * 20 * KiB + 3)); done
printf 'plain text file in A\n' >"$SRCA/readme.txt"
randfile "$SRCB/b_big.bin" $((3 * MiB + 11))
cp "$SRCA/shared.bin" "$SRCB/y/shared_copy.bin"
for i in 1 2 3; do randfile "$SRCB/y/b_small$i.bin" $((i * 30 * KiB + 1)); done
manifest "$SRCA" "$WORK/a.json" >/dev/null
manifest "$SRCB" "$WORK/b.json" >/dev/null

files_of() { python3 -c 'import json,sys; [print(p) for p,e in sorted(json.load(open(sys.argv[1])).items()) if e["type"]=="file"]' "$1"; }

# round NAME COMPRESSION TARGET: TARGET is "middle" (the middle byte of the
# largest pack) or a source file whose bytes are located in the pack.
round() {
	local name=$1 comp=$2 target=$3
	local store=$WORK/store-$name pack off found affected_files=() f rc
	echo "-- round $name (compression $comp, flip at: $target)"
	init_store "$store" --compression "$comp"
	ID_A=$(add_content "$store" --kind package --name "tree A" "$SRCA")
	ID_B=$(add_content "$store" --kind package --name "tree B" "$SRCB")
	verify_ok "$store"
	pack=$(find "$store/packs" -name '*.pack' -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
	[[ -n $pack ]] || fail "no pack file in $store/packs"
	cp "$pack" "$WORK/pack.orig"
	local psize
	psize=$(stat -c %s "$pack")

	off=
	if [[ $target != middle ]]; then
		# Locate 64 bytes from the middle of TARGET inside the pack.
		local tsize
		tsize=$(stat -c %s "$target")
		found=$("${PYHELP[@]}" find-bytes "$pack" "$target" $((tsize / 2)) 64 | head -n 1)
		if [[ -n $found ]]; then
			off=$((found + 32))
		else
			note "bytes of $target not found verbatim in the pack (compressed?); flipping the middle byte instead"
		fi
	fi
	[[ -n $off ]] || off=$((psize / 2))

	# Which source files hold the bytes around the flipped one (stored raw)?
	local srcfiles=()
	mapfile -t srcfiles < <(files_of "$WORK/a.json" | sed "s|^|$SRCA/|"; files_of "$WORK/b.json" | sed "s|^|$SRCB/|")
	mapfile -t affected_files < <("${PYHELP[@]}" find-window "$WORK/pack.orig" "$off" "${srcfiles[@]}" | cut -f1)
	check "[$name] flip byte $off of $(basename "$pack") ($psize bytes); source files holding it: ${affected_files[*]:-unknown (not stored raw)}"
	"${PYHELP[@]}" flip "$pack" "$off" >/dev/null

	local want_ids=()
	for f in "${affected_files[@]}"; do
		case $f in
		"$SRCA"/*) want_ids+=("$ID_A") ;;
		"$SRCB"/*) want_ids+=("$ID_B") ;;
		esac
	done

	check "[$name] every file cats back exactly, or fails with stdout a strict prefix of the right bytes"
	local failed_ids=() failed_files=() id src man p
	for pair in "$ID_A:$SRCA:$WORK/a.json" "$ID_B:$SRCB:$WORK/b.json"; do
		IFS=: read -r id src man <<<"$pair"
		while IFS= read -r p; do
			rc=0
			tsm "$store" content cat "$id" "$p" </dev/null >"$WORK/cat.out" 2>"$WORK/cat.err" || rc=$?
			((rc == 124 || rc > 128)) && fail "content cat $id $p: exit $rc (hang or crash)"
			if ((rc == 0)); then
				cmp -s "$WORK/cat.out" "$src/$p" ||
					fail "content cat $id $p exited 0 but gave wrong bytes after the pack was damaged ($(stat -c %s "$WORK/cat.out") bytes; $(cmp "$WORK/cat.out" "$src/$p" 2>&1 | head -n 1))"
			else
				"${PYHELP[@]}" prefix "$WORK/cat.out" "$src/$p" >/dev/null ||
					fail "content cat $id $p failed (exit $rc) but its stdout is not a prefix of the right bytes"
				cmp -s "$WORK/cat.out" "$src/$p" &&
					fail "content cat $id $p exited $rc yet wrote the complete, correct file"
				[[ -s $WORK/cat.err ]] || fail "content cat $id $p exited $rc with nothing on stderr"
				note "cat $id $p: exit $rc after $(stat -c %s "$WORK/cat.out") good bytes: $(head -n 1 "$WORK/cat.err" | head -c 200)"
				failed_files+=("$src/$p")
				[[ " ${failed_ids[*]} " == *" $id "* ]] || failed_ids+=("$id")
			fi
		done < <(files_of "$man")
	done
	((${#failed_files[@]} > 0)) || fail "[$name] no file failed to cat after flipping byte $off of $pack"
	if ((${#affected_files[@]} > 0)); then
		check "[$name] exactly the files holding the damaged chunk fail; all others read fine"
		local want got
		want=$(printf '%s\n' "${affected_files[@]}" | sort -u)
		got=$(printf '%s\n' "${failed_files[@]}" | sort -u)
		assert_eq "$got" "$want" "files that fail to cat"
	fi

	check "[$name] verify exits non-zero and names the chunk (hex), $(basename "$pack") and the affected IDs"
	rc=0
	tsm "$store" verify >"$WORK/verify.out" 2>"$WORK/verify.err" || rc=$?
	((rc != 0)) || fail "verify exited 0 on a store with a flipped byte in $pack"
	((rc == 124 || rc > 128)) && fail "verify: exit $rc (hang or crash)"
	note "verify exit $rc: $(head -n 3 "$WORK/verify.err" | tr '\n' ' ' | head -c 400)"
	grep -Eq '[0-9a-f]{64}' "$WORK/verify.err" || fail "verify stderr names no chunk (64 hex digits): $(head -c 800 "$WORK/verify.err")"
	grep -Fq "$(basename "$pack")" "$WORK/verify.err" || fail "verify stderr does not name the pack $(basename "$pack"): $(head -c 800 "$WORK/verify.err")"
	local all_ids
	all_ids=$(printf '%s\n' "${want_ids[@]}" "${failed_ids[@]}" | sort -u)
	for id in $all_ids; do
		grep -Eq "(^|[^A-Z0-9])$id([^A-Z0-9]|$)" "$WORK/verify.err" ||
			fail "verify stderr does not name the affected content ID $id: $(head -c 800 "$WORK/verify.err")"
	done
	for id in "$ID_A" "$ID_B"; do
		if ! grep -qx "$id" <<<"$all_ids"; then
			grep -Eq "(^|[^A-Z0-9])$id([^A-Z0-9]|$)" "$WORK/verify.err" &&
				fail "verify names $id, whose files all read back fine"
		fi
	done
	rm -f "$WORK/pack.orig"
}

round middle none middle
round shared none "$SRCA/shared.bin"
round zstd zstd "$SRCA/x/a_big2.bin"

pass

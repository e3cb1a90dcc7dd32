#!/usr/bin/env bash
# SIGKILL `content add` at random moments: the store always verifies, the item
# is either complete or absent, and gc reclaims what the dead imports left.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MiB=$((1024 * 1024))
ITERATIONS=${CRASH_ITERATIONS:-20}
NBIG=6

SRC=$WORK/tree
mkdir -p "$SRC/big" "$SRC/small"
check "building a ~200 MB tree ($NBIG x 30 MiB + small files)"
for i in $(seq 0 $((NBIG - 1))); do randfile "$SRC/big/part$i.bin" $((30 * MiB)); done
"${PYHELP[@]}" gen-small "$SRC/small" 150 1 300000 11 >/dev/null
printf 'iteration 0\n' >"$SRC/tag.txt"

STORE=$WORK/store
init_store "$STORE" --compression none

# Items that exist in the store: "ID manifest" lines.
LIVE=$WORK/live.txt
: >"$LIVE"

check "baseline: uninterrupted imports of the tree and of a typical round (their duration scales the kill delays)"
manifest "$SRC" "$WORK/m0.json" >/dev/null
t0=$(date +%s%N)
ID0=$(add_content "$STORE" --kind os-image --name "crash baseline" "$SRC")
t1=$(date +%s%N)
import_ms=$(((t1 - t0) / 1000000))
note "import of $(du -sh "$SRC" | cut -f1) took $import_ms ms"
echo "$ID0 $WORK/m0.json" >>"$LIVE"
verify_ok "$STORE"

# Typical round: the same tree with one big file rewritten (mostly dedup).
# Time one such import uninterrupted; kills then land at a random moment in
# [0, min(2 s, 1.1 x that time)], so most of them hit a running import.
randfile "$SRC/big/part0.bin" $((30 * MiB))
printf 'calibration\n' >"$SRC/tag.txt"
manifest "$SRC" "$WORK/mcal.json" >/dev/null
t0=$(date +%s%N)
IDCAL=$(add_content "$STORE" --kind os-image --name "crash calibration" "$SRC")
t1=$(date +%s%N)
typical_ms=$(((t1 - t0) / 1000000))
echo "$IDCAL $WORK/mcal.json" >>"$LIVE"
note "a typical round's import took $typical_ms ms"
max_ms=$((typical_ms * 11 / 10))
((max_ms > 2000)) && max_ms=2000
((max_ms < 50)) && max_ms=50

killed_mid=0 killed_late=0 finished=0
CUR_PID=
at_exit '[[ -n ${CUR_PID:-} ]] && kill -KILL "$CUR_PID"'
for it in $(seq 1 "$ITERATIONS"); do
	# New data each round: one big file rewritten, the tag changed.
	randfile "$SRC/big/part$((it % NBIG)).bin" $((30 * MiB))
	printf 'iteration %d\n' "$it" >"$SRC/tag.txt"
	manifest "$SRC" "$WORK/m$it.json" >/dev/null
	before=$(json_ids "$STORE")

	delay_ms=$(((RANDOM * 32768 + RANDOM) % (max_ms + 1)))
	"$TSMEDIA" --store "$STORE" content add --kind os-image --name "crash $it" "$SRC" \
		</dev/null >"$WORK/add.out" 2>"$WORK/add.err" &
	pid=$!
	CUR_PID=$pid
	sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
	kill -KILL "$pid" 2>/dev/null || true
	rc=0
	wait "$pid" 2>/dev/null || rc=$?
	CUR_PID=

	verify_ok "$STORE"
	after=$(json_ids "$STORE")
	new=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | grep . || true)
	gone=$(comm -23 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | grep . || true)
	[[ -z $gone ]] || fail "iteration $it: items disappeared after a killed add: $gone"
	nnew=$(printf '%s' "$new" | grep -c . || true)
	((nnew <= 1)) || fail "iteration $it: $nnew new items from one add: $new"

	if ((rc == 0)); then
		printed=$(grep -E "$ID_RE" "$WORK/add.out" || true)
		assert_eq "$new" "$printed" "iteration $it: add finished (exit 0) before the kill; new item vs printed ID"
		finished=$((finished + 1))
		what="finished before the kill"
	elif ((rc == 137)); then
		if ((nnew == 1)); then
			killed_late=$((killed_late + 1))
			what="killed after commit"
		else
			killed_mid=$((killed_mid + 1))
			what="killed mid-import"
		fi
	else
		fail "iteration $it: content add exited $rc before the kill: $(head -c 600 "$WORK/add.err")"
	fi
	echo "  iteration $it: kill after ${delay_ms} ms: $what; new item: ${new:-none}"

	if ((nnew == 1)); then
		# The new item must be complete: listing and bytes.
		show_json "$STORE" "$new" "$WORK/show.json"
		"${PYHELP[@]}" check-show "$WORK/show.json" "$WORK/m$it.json" >/dev/null ||
			fail "iteration $it: item $new is listed but incomplete or wrong"
		cat_check "$STORE" "$new" "$WORK/m$it.json" >/dev/null
		echo "$new $WORK/m$it.json" >>"$LIVE"
	fi
done
echo "  summary: $killed_mid killed mid-import, $killed_late killed after commit, $finished finished first"
((killed_mid >= ITERATIONS / 4)) ||
	fail "only $killed_mid of $ITERATIONS kills landed during an import; the test did not exercise crashes"

check "gc and verify pass; pack bytes shrink to ~ the live data"
live_bytes=$(python3 - "$LIVE" <<'EOF'
import json, sys
blobs = {}
for line in open(sys.argv[1]):
    _, man = line.split()
    for e in json.load(open(man)).values():
        if e['type'] == 'file':
            blobs[e['sha256']] = e['size']
print(sum(blobs.values()))
EOF
)
pre=$(packs_dir_bytes "$STORE")
tsm "$STORE" gc >"$WORK/gc.out" 2>"$WORK/gc.err" || fail "gc failed: $(head -c 800 "$WORK/gc.err")"
verify_ok "$STORE"
post=$(packs_dir_bytes "$STORE")
note "distinct live file bytes $live_bytes; packs/ before gc $pre, after gc $post"
assert_le "$post" $((live_bytes + live_bytes / 50 + MiB)) "bytes in packs/ after gc vs the live data (+2% +1 MiB)"
assert_ge "$post" $((live_bytes - live_bytes / 100)) "bytes in packs/ after gc are below the live data: gc lost data"

check "after gc every live item is listed and every distinct blob reads back"
after=$(json_ids "$STORE")
assert_eq "$after" "$(cut -d' ' -f1 "$LIVE" | sort)" "items after gc"
python3 - "$LIVE" "$WORK" >"$WORK/plan.txt" <<'EOF'
import json, sys
seen = set()
for n, line in enumerate(open(sys.argv[1])):
    cid, man = line.split()
    paths = [p for p, e in sorted(json.load(open(man)).items())
             if e['type'] == 'file' and e['sha256'] not in seen and not seen.add(e['sha256'])]
    if paths:
        lst = f'{sys.argv[2]}/only{n}.txt'
        with open(lst, 'w') as f:
            f.write(''.join(p + '\n' for p in paths))
        print(cid, man, lst)
EOF
while read -r cid man lst; do
	cat_check "$STORE" "$cid" "$man" --only-from "$lst"
done <"$WORK/plan.txt"

pass

#!/usr/bin/env bash
# tsmediafs -o metrics=127.0.0.1:PORT, scraped by Debian's prometheus:
#   - readers load the mount (several at once, whole files, two block sizes,
#     one file held open across scrapes) while prometheus scrapes every
#     second; the test counts what it opened and read;
#   - a chunk damaged in its pack reads as EIO;
#   - a media created while mounted makes the catalog refresh;
# then the counters are read back through prometheus' HTTP API
# (/api/v1/query) and compared with what the test did: opens and bytes per
# file exactly, reads and the latency histogram's count consistent with
# them, chunk checks and failures, read errors, snapshots, pins, open files
# and refreshes.  Also: the endpoint refuses other paths, and a bad
# address or a port in use stops the mount before it starts.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
fs_require
command -v prometheus >/dev/null || skip "prometheus is not installed (Debian: prometheus)"
command -v curl >/dev/null || skip "curl is not installed (Debian: curl)"

# free_port: a TCP port nothing listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

store=$WORK/store
mnt=$WORK/mnt
init_store "$store" --compression none
for m in alpha beta gamma; do
	mkdir -p "$WORK/src-$m"
done
randfile "$WORK/src-alpha/a.bin" $((6 << 20))
randfile "$WORK/src-beta/b.bin" $((3 << 20))
randfile "$WORK/src-gamma/g.bin" $((1 << 20))
for m in alpha beta gamma; do
	id=$(add_content "$store" --kind package --name "$m" "$WORK/src-$m")
	tsm "$store" -q media create --type data --name "$m" --content "$id" >/dev/null
	eval "id_$m=$id"
done

check "a bad -o metrics= is refused before mounting"
mkdir -p "$WORK/mnt-bad"
expect_fail_with "metrics=localhost:80.*numeric" -- "$TSMEDIAFS" --store "$store" "$WORK/mnt-bad" -f -o metrics=localhost:80
expect_fail_with "expected ADDRESS:PORT" -- "$TSMEDIAFS" --store "$store" "$WORK/mnt-bad" -f -o metrics=127.0.0.1
expect_fail_with "port must be 1 to 65535" -- "$TSMEDIAFS" --store "$store" "$WORK/mnt-bad" -f -o metrics=127.0.0.1:70000
! mountpoint -q "$WORK/mnt-bad" || fail "a refused tsmediafs mounted"

PORT=$(free_port)
fs_start "$store" "$mnt" -o "metrics=127.0.0.1:$PORT"
wait_until 5 test -e "$mnt/gamma.iso" || fail "gamma.iso is not listed"
M=http://127.0.0.1:$PORT/metrics
curl -fsS "$M" >"$WORK/first.txt" || fail "no metrics at $M"
grep -q '^# TYPE tsmediafs_read_seconds histogram$' "$WORK/first.txt" || fail "no read latency histogram: $(head -c 800 "$WORK/first.txt")"
# promtool (from the prometheus package) lints the exposition format.
if command -v promtool >/dev/null; then
	promtool check metrics <"$WORK/first.txt" >"$WORK/promtool.out" 2>&1 ||
		fail "promtool check metrics: $(cat "$WORK/promtool.out")"
	note "promtool check metrics: clean"
fi
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/other") == 404 ]] || fail "a path other than /metrics is not 404"
[[ $(curl -s -o /dev/null -w '%{http_code}' -X POST "$M") == 405 ]] || fail "POST /metrics is not 405"

check "a second daemon on the same port fails before mounting"
expect_fail_with "cannot listen there" -- "$TSMEDIAFS" --store "$store" "$WORK/mnt-bad" -f -o "metrics=127.0.0.1:$PORT"
! mountpoint -q "$WORK/mnt-bad" || fail "tsmediafs mounted although its metrics port was taken"

check "prometheus scrapes the mount every second"
PPORT=$(free_port)
cat >"$WORK/prometheus.yml" <<-EOF2
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tsmediafs
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF2
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
at_exit "kill $PROM_PID; wait $PROM_PID"
P=http://127.0.0.1:$PPORT
wait_until 60 curl -fsS -o /dev/null "$P/-/ready" 2>/dev/null || fail "prometheus is not ready after 60 s: $(tail -n 5 "$WORK/prometheus.log")"

# query EXPR: the value of a PromQL expression with one sample now ("" if none).
query() {
	curl -fsS --data-urlencode "query=$1" "$P/api/v1/query" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["status"] == "success", r
res = r["data"]["result"]
print(res[0]["value"][1] if len(res) == 1 else "")'
}
# query_is EXPR VALUE: whether EXPR's value is VALUE now (for wait_until).
query_is() { [[ $(query "$1") == "$2" ]]; }
wait_until 30 query_is 'up{job="tsmediafs"}' 1 || fail "prometheus does not see the target up: $(curl -s "$P/api/v1/targets" | head -c 800)"
refresh0=$(query tsmediafs_catalog_refreshes_total)
assert_eq "$refresh0" 1 "catalog refreshes before any change (the one at mount)"

check "load: readers at once, whole files, while scrapes run"
# Each reader writes the bytes it read, one line per open.
: >"$WORK/reads.alpha"
: >"$WORK/reads.beta"
reader() { # FILE BLOCKSIZE TIMES LOG
	for _ in $(seq "$3"); do
		dd if="$mnt/$1" bs="$2" status=none | wc -c >>"$4"
	done
}
exec 7<"$mnt/beta.iso" # held open across scrapes: a pin and an open file
pids=()
for r in 1 2 3; do
	reader alpha.iso 1M 4 "$WORK/reads.alpha" &
	pids+=($!)
done
reader beta.iso 64K 5 "$WORK/reads.beta" &
pids+=($!)
for p in "${pids[@]}"; do
	wait "$p" || fail "a reader failed"
done
alpha_opens=$(wc -l <"$WORK/reads.alpha")
alpha_bytes=$(awk '{ s += $1 } END { printf "%.0f", s }' "$WORK/reads.alpha")
beta_opens=$(($(wc -l <"$WORK/reads.beta") + 1)) # and the one held open
beta_bytes=$(awk '{ s += $1 } END { printf "%.0f", s }' "$WORK/reads.beta")
alpha_size=$(stat -c %s "$mnt/alpha.iso")
assert_eq "$alpha_bytes" $((alpha_size * 12)) "bytes the alpha readers read"
note "read alpha.iso $alpha_opens times ($alpha_bytes bytes), beta.iso $((beta_opens - 1)) times ($beta_bytes bytes)"

check "a damaged chunk: EIO, counted"
chunk=$(sqlite3 "$store/catalog.db" "SELECT c.pack, c.offset, c.size FROM content_versions v
	JOIN tree_entries t ON t.version = v.id AND t.path = 'g.bin'
	JOIN blob_chunks b ON b.blob = t.blob JOIN chunks c ON c.id = b.chunk
	WHERE v.content = '$id_gamma' ORDER BY b.seq LIMIT 1")
IFS='|' read -r pack off size <<<"$chunk"
[[ -n $pack && -n $off ]] || fail "cannot find g.bin's first chunk in the catalog"
pack_file=$(printf '%s/packs/pack-%08d.pack' "$store" "$pack")
[[ -f $pack_file ]] || fail "no pack file $pack_file"
printf '\xff' | dd of="$pack_file" bs=1 seek=$((off + size / 2)) conv=notrunc status=none
rc=0
dd if="$mnt/gamma.iso" of=/dev/null bs=1M status=none 2>"$WORK/gamma.err" || rc=$?
((rc != 0)) || fail "reading gamma.iso over a damaged chunk succeeded"
grep -q "Input/output error" "$WORK/gamma.err" || fail "gamma.iso failed, but not with EIO: $(cat "$WORK/gamma.err")"

check "a media created while mounted refreshes the catalog"
tsm "$store" -q media create --type data --name delta --content "$id_beta" >/dev/null
wait_until 10 test -e "$mnt/delta.iso" || fail "delta.iso did not appear"

check "prometheus' counters equal what the test did"
# Scrapes after the last read: wait until prometheus has the final byte count.
want_alpha="tsmediafs_read_bytes_total{file=\"alpha.iso\"}"
wait_until 30 query_is "$want_alpha" "$alpha_bytes" ||
	fail "prometheus has $want_alpha = '$(query "$want_alpha")', the test read $alpha_bytes"
sleep 2 # one more scrape: everything below happened before the last read ended
assert_eq "$(query 'tsmediafs_read_bytes_total{file="beta.iso"}')" "$beta_bytes" "bytes served of beta.iso"
assert_eq "$(query 'tsmediafs_opens_total{file="alpha.iso",media="alpha"}')" "$alpha_opens" "opens of alpha.iso"
assert_eq "$(query 'tsmediafs_opens_total{file="beta.iso"}')" "$beta_opens" "opens of beta.iso"
assert_eq "$(query 'tsmediafs_opens_total{file="gamma.iso"}')" 1 "opens of gamma.iso"
alpha_reads=$(query 'tsmediafs_reads_total{file="alpha.iso"}')
beta_reads=$(query 'tsmediafs_reads_total{file="beta.iso"}')
# At least one request per MiB (the largest request is 1 MiB) and per block
# of 64 KiB for beta; at most those plus the end-of-file read of each open.
assert_ge "$alpha_reads" $((alpha_bytes / 1048576)) "read requests of alpha.iso"
assert_le "$alpha_reads" $((alpha_bytes / 1048576 + 2 * alpha_opens)) "read requests of alpha.iso"
assert_ge "$beta_reads" $((beta_bytes / 65536)) "read requests of beta.iso"
assert_le "$beta_reads" $((beta_bytes / 65536 + 2 * beta_opens)) "read requests of beta.iso"
gamma_errors=$(query 'tsmediafs_read_errors_total{file="gamma.iso"}')
assert_ge "$gamma_errors" 1 "failed reads of gamma.iso"
assert_eq "$(query 'tsmediafs_read_errors_total{file="alpha.iso"}')" 0 "failed reads of alpha.iso"
all_reads=$(query 'sum(tsmediafs_reads_total)')
assert_eq "$(query 'tsmediafs_read_seconds_count')" "$all_reads" "latency histogram count vs. read requests"
assert_eq "$(query 'tsmediafs_read_seconds_bucket{le="+Inf"}')" "$all_reads" "the +Inf bucket"
python3 -c "import sys; sys.exit(0 if float('$(query tsmediafs_read_seconds_sum)') > 0 else 1)" ||
	fail "the latency sum is not positive"
# The chunks of alpha's 6 MiB and beta's 3 MiB (16 KiB to 256 KiB each) were
# checked at their first read; the damaged one failed.
verified=$(query tsmediafs_chunk_verifications_total)
assert_ge "$verified" $(((9 << 20) / (256 << 10))) "chunks checked"
assert_ge "$(query tsmediafs_chunk_failures_total)" 1 "damaged chunks found"
assert_ge "$(query tsmediafs_catalog_refreshes_total)" 2 "catalog refreshes after delta was created"
# The mount lists each media at its root and each numbered snapshot under
# versions/NAME/N/, each its own snapshot with its own listing pin.
files=$(find "$mnt" -type f | wc -l)
version_dirs=$(find "$mnt/versions" -mindepth 2 -maxdepth 2 -type d | wc -l)
assert_eq "$(query tsmediafs_media_files)" "$files" "files listed"
assert_eq "$(query tsmediafs_snapshots_live)" $((4 + version_dirs)) "snapshots live (4 media, $version_dirs version directories)"
assert_eq "$(query tsmediafs_open_files)" 1 "open files (beta.iso, held)"
assert_eq "$(query tsmediafs_pins_live)" $((4 + version_dirs + 1)) "pins: every listed snapshot and one open file"
note "alpha: $alpha_reads reads; beta: $beta_reads reads; all: $all_reads; chunks checked: $verified; p50 read latency: $(query 'histogram_quantile(0.5, tsmediafs_read_seconds_bucket)') s"

check "closing the held file lets its pin go"
exec 7<&-
scraped_is() { [[ $(curl -fsS "$M" | sed -n "s/^$1 //p") == "$2" ]]; }
wait_until 10 scraped_is tsmediafs_open_files 0 || fail "the open file is still counted"
assert_eq "$(curl -fsS "$M" | sed -n 's/^tsmediafs_pins_live //p')" $((4 + version_dirs)) "pins after the close"

check "every query of the Grafana dashboard (tools/grafana) runs on prometheus and names served metrics"
# Every metric fs/metrics.c exports has a panel; the panels of a --remote
# frontend's metrics (which this local mount does not serve) must parse on
# prometheus and use only names fs/metrics.c exports; every other query
# returns data here.
curl -fsS "$M" >"$WORK/last.txt"
python3 - "$TESTS_DIR/../../tools/grafana/tsmediafs.json" "$WORK/last.txt" "$P" \
	"$TESTS_DIR/../../fs/metrics.c" <<'PY' || fail "the dashboard does not match the metrics"
import json, re, sys, urllib.parse, urllib.request
dash = json.load(open(sys.argv[1]))
served = {l.split("{")[0].split(" ")[0] for l in open(sys.argv[2]) if l and not l.startswith("#")}
# The families fs/metrics.c exports: each has a # HELP/# TYPE header.
src = open(sys.argv[4]).read()
families = set(re.findall(r'put_(?:header|file_counter)\(out,(?:\s*m,)?\s*"(tsmediafs_[a-z_]+)"', src))
if len(families) < 20:
    sys.exit(f"found only {len(families)} metric families in fs/metrics.c: {sorted(families)}")
# A histogram family is served as NAME_bucket, NAME_sum and NAME_count.
exported = set(families) | {f + s for f in families for s in ("_bucket", "_sum", "_count")}
local = {f for f in families if f in served or f + "_count" in served}
remote_only = families - local
used, n, n_remote = set(), 0, 0
for panel in dash["panels"]:
    for t in panel["targets"]:
        expr = t["expr"].replace("$instance", ".*").replace("$__rate_interval", "30s")
        names = set(re.findall(r"tsmediafs_[a-z_]+", expr))
        if not names:
            sys.exit(f"panel '{panel['title']}': {expr} names no tsmediafs metric")
        for name in names:
            if name not in exported:
                sys.exit(f"panel '{panel['title']}' uses {name}, which fs/metrics.c does not export")
            used.add(re.sub(r"_(bucket|sum|count)$", "", name) if name not in families else name)
        needs_remote = any(name not in served for name in names)
        if needs_remote and not all(name in remote_only for name in names):
            sys.exit(f"panel '{panel['title']}' uses {sorted(names - served)}, which the mount does not serve")
        url = sys.argv[3] + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        r = json.load(urllib.request.urlopen(url))
        if r["status"] != "success" or (not needs_remote and not r["data"]["result"]):
            sys.exit(f"panel '{panel['title']}': {expr} gives {r}")
        n += 1
        n_remote += needs_remote
missing = sorted(families - used)
if missing:
    sys.exit(f"metrics fs/metrics.c exports that no panel of the dashboard shows: {missing}")
print(f"{n} queries of {len(dash['panels'])} panels run ({n - n_remote} return data; {n_remote} are of"
      f" the {len(remote_only)} metrics only a --remote frontend serves, and parse); all"
      f" {len(families)} metric families of fs/metrics.c have a panel")
PY

fs_stop "$mnt"
pass

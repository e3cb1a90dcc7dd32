#!/usr/bin/env bash
# Load through nginx (tools/nginx/tsmedia.conf, port and root changed) on
# 127.0.0.1: 16 concurrent HTTP clients read random byte ranges of 4 media
# for LOAD_SECONDS (default 20; 60 by hand: LOAD_SECONDS=60) while the
# content of the media is updated in a loop (`content add --id`) and `gc`
# runs in another.  Each request opens the file anew (a fresh connection
# each time), so a range may come from any version: it is right when it
# equals the same slice of one export of that media (every version is
# exported as it is made), whole from one version.  No errors; prints the
# aggregate throughput and the p99 latency.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ -e /dev/fuse ]] || skip "/dev/fuse is missing"
for t in fusermount3 nginx; do
	command -v "$t" >/dev/null || skip "$t is not installed (Debian: fuse3, nginx-light)"
done
[[ $(id -u) == 0 ]] || skip "nginx runs its workers as www-data: run as root"
getent passwd www-data >/dev/null || skip "no www-data user"
TSMEDIAFS=${TSMEDIAFS:-$(dirname "$TSMEDIA")/../fs/tsmediafs}
[[ -x $TSMEDIAFS ]] || fail "tsmediafs not found at $TSMEDIAFS"
root=$(cd "$(dirname "$0")/../.." && pwd)
LOAD_SECONDS=${LOAD_SECONDS:-20}
CLIENTS=16

chmod 0711 "$WORK"
store=$WORK/store
mnt=$WORK/mnt
exp=$WORK/exports
mkdir -p "$mnt" "$exp"
init_store "$store"
daemon_pid=
nginx_pid=
bg_pids=()
at_exit 'touch "$WORK/stop"; kill ${bg_pids[*]}; kill $nginx_pid; fusermount3 -u "$mnt"; kill $daemon_pid'

wait_for() {
	for _ in $(seq 100); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# A version of media N: the same file sizes every time, so the ISO keeps its
# size and every range stays inside it.
write_tree() { # DIR VERSION
	mkdir -p "$1/sources"
	[[ -f $1/sources/install.wim ]] || randfile "$1/sources/install.wim" $((8 << 20))
	randfile "$1/sources/update.msu" $((2 << 20))
	printf '%s v%06d\n' "$(basename "$1")" "$2" >"$1/version.txt"
}
ids=()
for n in 1 2 3 4; do
	write_tree "$WORK/src/m$n" 1
	ids[n]=$(add_content "$store" --kind package --name "m$n" "$WORK/src/m$n")
	tsm "$store" media create --type data --name "m$n" --content "${ids[n]}" >/dev/null
	tsm "$store" media export "m$n" -o "$exp/m$n.000001.iso"
done

"$TSMEDIAFS" --store "$store" "$mnt" -f -o allow_other 2>>"$WORK/daemon.log" &
daemon_pid=$!
wait_for mountpoint -q "$mnt" || fail "tsmediafs did not mount: $(cat "$WORK/daemon.log")"

nginx_serve "$root" "$mnt" no-log
wait_for curl -sf -o /dev/null "http://127.0.0.1:$port/m4.iso" -r 0-0 ||
	fail "nginx does not serve m4.iso: $(cat "$ngx/logs/stderr" "$ngx/logs/error.log" 2>/dev/null | tail -5)"

check "$CLIENTS clients x random ranges of 4 media for $LOAD_SECONDS s, while content is updated and gc runs"
# The updater: a new version of one content item after another, each
# exported (to a temporary name, then renamed: a client sees whole exports).
(
	v=1
	while [[ ! -e $WORK/stop ]]; do
		v=$((v + 1))
		for n in 1 2 3 4; do
			[[ -e $WORK/stop ]] && break
			write_tree "$WORK/src/m$n" "$v"
			tsm "$store" content add --kind package --name "m$n" --id "${ids[n]}" "$WORK/src/m$n" \
				>/dev/null 2>>"$WORK/updater.err" || { echo "content add m$n v$v failed" >>"$WORK/updater.err"; touch "$WORK/updater.done"; exit 1; }
			tsm "$store" media export "m$n" -o "$exp/.m$n.tmp" 2>>"$WORK/updater.err" ||
				{ echo "export m$n v$v failed" >>"$WORK/updater.err"; touch "$WORK/updater.done"; exit 1; }
			mv "$exp/.m$n.tmp" "$exp/m$n.$(printf %06d "$v").iso"
			echo "m$n v$v" >>"$WORK/updates.log"
		done
	done
	touch "$WORK/updater.done"
) &
updater=$!
bg_pids+=("$updater")
(
	while [[ ! -e $WORK/stop ]]; do
		tsm "$store" gc >>"$WORK/gc.out" 2>>"$WORK/gc.err" || { echo "gc failed" >>"$WORK/gc.err"; exit 1; }
		echo gc >>"$WORK/gc.log"
		sleep 0.3
	done
) &
gcloop=$!
bg_pids+=("$gcloop")

# A request the server closed without an answer (RemoteDisconnected: nginx
# does that when a file read fails before its header went out) leaves its
# cause in the servers' logs, which the checks below read only when every
# request succeeded: show them with the failure.
server_logs() {
	echo "nginx's error log:"
	tail -n 20 "$ngx/logs/error.log" 2>/dev/null || true
	echo "tsmediafs's log:"
	tail -n 20 "$WORK/daemon.log" 2>/dev/null || true
}
python3 - "$port" "$exp" "$LOAD_SECONDS" "$CLIENTS" "$WORK" <<'PY' || fail "the load clients failed (above)"$'\n'"$(server_logs)"
import hashlib, http.client, mmap, multiprocessing as mp, os, random, socket, sys, time
port, exp, secs, nclients, work = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
media = ["m1", "m2", "m3", "m4"]

class Exports:
    """The exports made so far, mapped; rescanned when a range matches none."""
    def __init__(self):
        self.maps = {}  # name -> mmap
    def scan(self):
        for f in sorted(os.listdir(exp)):
            if f.endswith(".iso") and not f.startswith(".") and f not in self.maps:
                fd = os.open(os.path.join(exp, f), os.O_RDONLY)
                self.maps[f] = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
                os.close(fd)
    def match(self, m, lo, body):
        # Newest first: most ranges come from the current version.
        for f in sorted((f for f in self.maps if f.startswith(m + ".")), reverse=True):
            if self.maps[f][lo:lo + len(body)] == body:
                return f
        return None

def client(i, q):
    rnd = random.Random(1000 + i)
    ex = Exports(); ex.scan()
    sizes = {m: len(ex.maps[f"{m}.000001.iso"]) for m in media}
    lat, nbytes, nreq, pending, versions, errors = [], 0, 0, [], set(), []
    end = time.monotonic() + secs
    while time.monotonic() < end:
        m = rnd.choice(media); size = sizes[m]
        n = rnd.choice([rnd.randint(1, 4096), rnd.randint(4096, 256 << 10), rnd.randint(256 << 10, 1 << 20)])
        lo = rnd.randrange(size); hi = min(size - 1, lo + n - 1)
        t = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # fresh: the file is opened anew
            c.request("GET", f"/{m}.iso", headers={"Range": f"bytes={lo}-{hi}", "Connection": "close"})
            r = c.getresponse(); body = r.read(); c.close()
        except (OSError, http.client.HTTPException) as e:
            errors.append(f"{m}.iso bytes={lo}-{hi}: {type(e).__name__}: {e}"); continue
        lat.append(time.monotonic() - t); nreq += 1
        if r.status != 206 or r.getheader("Content-Range") != f"bytes {lo}-{hi}/{size}" or len(body) != hi - lo + 1:
            errors.append(f"{m}.iso bytes={lo}-{hi}: HTTP {r.status} {r.getheader('Content-Range')} {len(body)} bytes")
            continue
        nbytes += len(body)
        f = ex.match(m, lo, body)
        if f is None:
            ex.scan(); f = ex.match(m, lo, body)
        if f is None:
            # Perhaps a version whose export is not written yet: check at the end.
            pending.append((m, lo, hashlib.sha256(body).hexdigest(), len(body)))
        else:
            versions.add(f)
        if len(errors) > 20:
            break
    q.put((i, lat, nbytes, nreq, pending, sorted(versions), errors))

q = mp.Queue()
t0 = time.monotonic()
procs = [mp.Process(target=client, args=(i, q)) for i in range(nclients)]
for p in procs: p.start()
results = [q.get() for _ in procs]
for p in procs: p.join()
elapsed = time.monotonic() - t0
open(os.path.join(work, "stop"), "w").close()  # stop the updater and gc
lat = sorted(x for r in results for x in r[1])
nbytes = sum(r[2] for r in results); nreq = sum(r[3] for r in results)
pending = [p for r in results for p in r[4]]
versions = set(v for r in results for v in r[5])
errors = [e for r in results for e in r[6]]
# Let the updater finish its last export, then check what was pending.
deadline = time.monotonic() + 120
while not os.path.exists(os.path.join(work, "updater.done")) and time.monotonic() < deadline:
    time.sleep(0.1)
bad = []
if pending:
    ex = Exports(); ex.scan()
    for m, lo, digest, n in pending:
        hit = [f for f in ex.maps if f.startswith(m + ".") and hashlib.sha256(ex.maps[f][lo:lo + n]).hexdigest() == digest]
        if hit: versions.add(hit[0])
        else: bad.append(f"{m}.iso bytes={lo}-{lo + n - 1}: equal to no export of {m}")
nexports = len([f for f in os.listdir(exp) if f.endswith(".iso") and not f.startswith(".")])
p = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] * 1000 if lat else float("nan")
print(f"  ... {nreq} range requests by {nclients} clients in {elapsed:.1f} s: {nbytes / elapsed / 1e6:.0f} MB/s aggregate, "
      f"latency p50 {p(0.50):.1f} ms, p99 {p(0.99):.1f} ms, max {p(1.0):.1f} ms")
print(f"  ... {nexports} exports made (versions of the 4 media); ranges came from {len(versions)} of them; "
      f"{len(pending)} checked after their export was written")
with open(os.path.join(work, "figures"), "w") as f:
    f.write(f"{nbytes / elapsed / 1e6:.0f} MB/s p99 {p(0.99):.1f} ms\n")
for e in errors[:10] + bad[:10]:
    print("  ERROR:", e, file=sys.stderr)
if errors or bad:
    sys.exit(f"{len(errors)} failed requests, {len(bad)} ranges with wrong bytes")
if nreq < nclients:
    sys.exit(f"only {nreq} requests")
PY
touch "$WORK/stop"
wait "$updater" || fail "the updater failed: $(tail -5 "$WORK/updater.err")"
wait "$gcloop" || fail "gc failed during the load: $(tail -5 "$WORK/gc.err")"
bg_pids=()
nupd=$(grep -c . "$WORK/updates.log" 2>/dev/null || echo 0)
ngc=$(grep -c . "$WORK/gc.log" 2>/dev/null || echo 0)
note "$nupd content updates and $ngc gc runs during the load"
assert_ge "$nupd" 4 "content updates during the load"
assert_ge "$ngc" 2 "gc runs during the load"
grep -E '\[(error|crit|alert|emerg)\]' "$ngx/logs/error.log" 2>/dev/null | head -5 >"$WORK/ngx.errors" || true
[[ ! -s $WORK/ngx.errors ]] || fail "nginx logged errors: $(cat "$WORK/ngx.errors")"
grep -i 'error' "$WORK/daemon.log" | head -5 >"$WORK/daemon.errors" || true
[[ ! -s $WORK/daemon.errors ]] || fail "tsmediafs logged errors: $(cat "$WORK/daemon.errors")"

check "after the load: the store verifies, the mount serves the last versions"
verify_ok "$store"
for n in 1 2 3 4; do
	last=$(ls "$exp"/m$n.*.iso | sort | tail -n 1)
	wait_for test "$(sha "$mnt/m$n.iso")" = "$(sha "$last")" || fail "m$n.iso is not its last version ($last)"
done
note "figures: $(cat "$WORK/figures")"
pass

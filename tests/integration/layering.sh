#!/usr/bin/env bash
# Dependencies run one way: util <- store <- catalog <- import <- image <-
# media <- fs, tools (docs/architecture.md, "The layers").  Checked three ways:
#   1. issue 12's greps and the store's: no sqlite3_ in image/, media/,
#      import/; the catalog includes nothing from import/, image/, media/;
#      image/ includes nothing from catalog/ or store/; the store nothing
#      from catalog/, import/, image/, media/;
#   2. every #include in core/, include/tsmedia/, fs/ and tools/ points at
#      the same layer or one below (a public header's layer is its first
#      line, "/* Layer: NAME"); fs/ and tools/ include only tsmedia/ and
#      their own headers;
#   3. in the built library and programs, no function of a layer calls one
#      of a layer above (nm), and the loops issue 12 cut stay cut.
# Each offending line is printed.  The checker is first run on a small tree
# with known wrong includes, so a checker that finds nothing fails here.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$TESTS_DIR/../.." && pwd)
[[ -d $ROOT/core/store && -d $ROOT/include/tsmedia ]] || fail "no source tree at $ROOT"
BUILD=$(cd "$(dirname "$TSMEDIA")/.." && pwd)

# ---- 1. the greps ----------------------------------------------------------
grep_none() { # WHAT PATTERN-ARGS... : the grep must print nothing
	local what=$1 out
	shift
	out=$(cd "$ROOT" && grep "$@" 2>/dev/null) || true
	[[ -z $out ]] || fail "$what:"$'\n'"$out"
}
check "issue 12's greps and the store's print nothing"
grep_none "sqlite3_ outside store/ and catalog/" -l sqlite3_ core/image/*.c core/media/*.c \
	core/import/*.c
grep_none "the catalog includes a layer above it" -nE '#include "(import|image|media)/' \
	core/catalog/*.c
grep_none "image/ includes the catalog's or the store's headers" -nE '#include "(catalog|store)/' \
	core/image/*.c
grep_none "the store includes a layer above it" -nE '#include "(catalog|import|image|media)/' \
	core/store/*.c

# ---- 2. include directions -------------------------------------------------
cat >"$WORK/includes.py" <<'PY'
"""Prints every #include that points up the layers, one per line; exits 1 if any."""
import os
import re
import sys

RANK = {"util": 0, "store": 1, "catalog": 2, "import": 3, "image": 4, "media": 5,
        "fs": 6, "tools": 6}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
LAYER_LINE = re.compile(r"^/\* Layer: ([a-z]+)")
root = sys.argv[1]
problems = []


def public_layer(name):
    """The layer a public header's first line names, or None."""
    path = os.path.join(root, "include", "tsmedia", name)
    try:
        with open(path, encoding="utf-8") as f:
            m = LAYER_LINE.match(f.readline())
    except OSError:
        return None
    return m.group(1) if m and m.group(1) in RANK else None


def sources(top):
    for dirpath, _, files in os.walk(os.path.join(root, top)):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.join(dirpath, f)


def check(path, layer, public_only):
    rel = os.path.relpath(path, root)
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = m.group(2)
            head = target.split("/")[0] if "/" in target else None
            if m.group(1) == "<" and head not in RANK and head != "tsmedia":
                continue  # a system header
            where = f"{rel}:{n}: {line.strip()}"
            if head is None:
                if not os.path.exists(os.path.join(os.path.dirname(path), target)):
                    problems.append(f"{where}: no such header beside the file")
                continue  # a header of the same folder: the same layer
            if head == "tsmedia":
                to = public_layer(target[len("tsmedia/"):])
                if to is None:
                    problems.append(f"{where}: include/{target} has no '/* Layer: NAME' first line")
                    continue
            elif public_only:
                problems.append(f"{where}: {layer}/ includes only include/tsmedia/ and its own headers")
                continue
            elif head in RANK and head not in ("fs", "tools"):
                to = head
            else:
                problems.append(f"{where}: not a header of core/ or include/tsmedia/")
                continue
            if RANK[to] > RANK[layer]:
                problems.append(f"{where}: {layer} includes {to}, a layer above it")


for layer in ("util", "store", "catalog", "import", "image", "media"):
    for path in sources(os.path.join("core", layer)):
        check(path, layer, False)
for path in sources(os.path.join("include", "tsmedia")):
    layer = public_layer(os.path.basename(path))
    if layer is None:
        problems.append(f"{os.path.relpath(path, root)}:1: no '/* Layer: NAME' first line")
        continue
    check(path, layer, False)
for layer in ("fs", "tools"):
    for path in sources(layer):
        check(path, layer, True)
# Anything in core/ outside the known layers would escape every rule above.
for d in sorted(os.listdir(os.path.join(root, "core"))):
    if os.path.isdir(os.path.join(root, "core", d)) and d not in RANK:
        problems.append(f"core/{d}/: a folder that is no layer (known: {', '.join(RANK)})")
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY

check "the include checker finds wrong includes in a tree made to have them"
fake=$WORK/fake
mkdir -p "$fake"/core/{util,store,catalog,import,image,media} "$fake"/include/tsmedia "$fake"/fs \
	"$fake"/tools
printf '/* Layer: store (fake). */\n#include "tsmedia/compose.h"\n' >"$fake/include/tsmedia/blob.h"
printf '/* Layer: media (fake). */\n' >"$fake/include/tsmedia/compose.h"
printf '/* no layer line */\n' >"$fake/include/tsmedia/nolayer.h"
printf '#include "store/x.h"\n#include "util/db.h"\n#include <stdio.h>\n' >"$fake/core/catalog/ok.c"
printf '#include "util/db.h"\n#include "catalog/catalog.h"\n' >"$fake/core/store/up.c"
printf '#include "tsmedia/compose.h"\n' >"$fake/core/image/up.c"
printf '#include "tsmedia/blob.h"\n#include "own.h"\n#include "store/store_internal.h"\n' \
	>"$fake/tools/cmd.c"
printf '\n' >"$fake/tools/own.h"
if python3 "$WORK/includes.py" "$fake" >"$WORK/fake.out"; then
	fail "the checker passed a tree with wrong includes"
fi
cat >"$WORK/fake.want" <<'EOF'
core/store/up.c:2: #include "catalog/catalog.h": store includes catalog, a layer above it
core/image/up.c:1: #include "tsmedia/compose.h": image includes media, a layer above it
include/tsmedia/blob.h:2: #include "tsmedia/compose.h": store includes media, a layer above it
include/tsmedia/nolayer.h:1: no '/* Layer: NAME' first line
tools/cmd.c:3: #include "store/store_internal.h": tools/ includes only include/tsmedia/ and its own headers
EOF
diff <(sort "$WORK/fake.want") <(sort "$WORK/fake.out") ||
	fail "the checker's findings in the made-up tree differ from the expected ones (above)"
note "$(wc -l <"$WORK/fake.out") wrong includes found, as planted"

check "every #include in core/, include/tsmedia/, fs/ and tools/ points at its layer or one below"
python3 "$WORK/includes.py" "$ROOT" >"$WORK/includes.out" ||
	fail "includes that point up the layers:"$'\n'"$(cat "$WORK/includes.out")"
nfiles=$(find "$ROOT/core" "$ROOT/include/tsmedia" "$ROOT/fs" "$ROOT/tools" -name '*.[ch]' | wc -l)
note "$nfiles files checked"

# ---- 3. calls, from the built objects --------------------------------------
check "no function calls one of a layer above it; the loops issue 12 cut stay cut"
if ! command -v nm >/dev/null; then
	skip_part "nm is not installed (Debian: binutils): calls not checked"
elif [[ ! -d $BUILD/core/libtsmedia.a.p ]]; then
	skip_part "no objects at $BUILD/core/libtsmedia.a.p: calls not checked"
else
	python3 - "$BUILD" "$ROOT" >"$WORK/calls.out" <<'PY' || fail "calls against the layers:"$'\n'"$(cat "$WORK/calls.out")"
import glob
import os
import subprocess
import sys

RANK = {"util": 0, "store": 1, "catalog": 2, "import": 3, "image": 4, "media": 5,
        "fs": 6, "tools": 6}
# The loops issue 12 named, as files that must not call each other both ways.
CUT = [("store/pack", "store/store"), ("image/iso9660", "image/joliet"),
       ("image/iso9660", "image/rockridge"), ("image/joliet", "image/rockridge")]
build, root = sys.argv[1], sys.argv[2]


def unit(obj):
    """core/libtsmedia.a.p/store_pack.c.o -> store/pack; tools/tsmedia.p/cli.c.o -> tools/cli."""
    base = os.path.basename(obj)[:-len(".c.o")]
    if os.path.basename(os.path.dirname(obj)) == "libtsmedia.a.p":
        layer, name = base.split("_", 1)
        return f"{layer}/{name}"
    return f"{os.path.relpath(obj, build).split(os.sep)[0]}/{base}"


def source(u):
    layer, name = u.split("/")
    return os.path.join(root, *(("core",) if layer not in ("fs", "tools") else ()), layer,
                        name + ".c")


# An object whose source is gone (a file moved or removed since the build
# dir was made) is no part of the program any more.
objs = sorted(o for o in glob.glob(os.path.join(build, "core", "libtsmedia.a.p", "*.c.o")) +
              glob.glob(os.path.join(build, "tools", "tsmedia.p", "*.c.o")) +
              glob.glob(os.path.join(build, "fs", "tsmediafs.p", "*.c.o"))
              if os.path.exists(source(unit(o))))
defined, used = {}, {}
for obj in objs:
    u = unit(obj)
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRC":
            defined[parts[2]] = u
        elif len(parts) == 2 and parts[0] == "U":
            used.setdefault(u, set()).add(parts[1])
calls = {}
problems = []
for u, syms in sorted(used.items()):
    for sym in sorted(syms):
        d = defined.get(sym)
        if not d or d == u:
            continue
        calls.setdefault(u, set()).add(d)
        a, b = u.split("/")[0], d.split("/")[0]
        if a in RANK and b in RANK and RANK[b] > RANK[a]:
            problems.append(f"{u}.c calls {sym}() of {d}.c: {a} calls {b}, a layer above it")
        if a in ("fs", "tools") and b in ("fs", "tools") and a != b:
            problems.append(f"{u}.c calls {sym}() of {d}.c: {a}/ and {b}/ are separate programs")
for x, y in CUT:
    if y in calls.get(x, ()) and x in calls.get(y, ()):
        problems.append(f"{x}.c and {y}.c call each other (a loop issue 12 cut)")
tools_loop = [u for u in calls.get("tools/tsmedia", ()) if u.startswith("tools/cmd_")
              and "tools/tsmedia" in calls.get(u, ())]
for u in tools_loop:
    problems.append(f"tools/tsmedia.c and {u}.c call each other (the CLI helpers live in tools/cli.c)")
if len(objs) < 20 or not calls:
    problems.append(f"only {len(objs)} objects under {build}: is this a build of the tree?")
print("\n".join(problems) if problems else f"{len(objs)} objects, {sum(map(len, calls.values()))} calls between files")
sys.exit(1 if problems else 0)
PY
	note "$(cat "$WORK/calls.out")"
fi
pass

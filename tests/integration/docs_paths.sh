#!/usr/bin/env bash
# The README and docs/ match the tree they ship in:
#   - every core/, fs/, tools/, include/ and tests/ path they name exists;
#   - every function they name as `name()` is declared in the code or called by it;
#   - every relative Markdown link resolves;
#   - every `tsmedia WORD ...` the README shows is a command of
#     `tsmedia --help`, and `tsmedia WORD SUB` a sub-command WORD's help lists;
#   - none of them points outside the repository (../shared).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$TESTS_DIR/../.." && pwd)
[[ -f $ROOT/README.md && -d $ROOT/docs ]] || fail "no README.md and docs/ at $ROOT"

HELP=$WORK/help
mkdir -p "$HELP"
"$TSMEDIA" --help >"$HELP/top"
grep -q '^Commands:' "$HELP/top" || fail "tsmedia --help has no 'Commands:' section"

check "paths, functions, links and commands named in README.md and docs/*.md"
if ! /usr/bin/python3 - "$ROOT" "$TSMEDIA" "$HELP" <<'EOF'
import os
import re
import subprocess
import sys

root, tsmedia, helpdir = sys.argv[1:4]
docs = ["README.md"] + sorted(
    os.path.join("docs", f) for f in os.listdir(os.path.join(root, "docs")) if f.endswith(".md"))
problems = []
counts = {"paths": 0, "functions": 0, "links": 0, "commands": 0}


def text_of(rel):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return f.read()


# ---- paths: core/..., fs/..., tools/..., include/..., tests/... ------------
# Not preceded by a path character, so build/tools/tsmedia and
# ../shared/... are not taken for tree paths.
PATH_RE = re.compile(r"(?<![A-Za-z0-9_./-])((?:core|fs|tools|include|tests)/[A-Za-z0-9_./+-]*)")
for doc in docs:
    for n, line in enumerate(text_of(doc).splitlines(), 1):
        for m in PATH_RE.finditer(line):
            path = m.group(1).rstrip(".,:;")
            counts["paths"] += 1
            if not os.path.exists(os.path.join(root, path)):
                problems.append(f"{doc}:{n}: path '{path}' does not exist")

# ---- functions named as `name()` --------------------------------------------
sources = []
for top in ("core", "fs", "tools", "include"):
    for d, _, files in os.walk(os.path.join(root, top)):
        for f in files:
            if f.endswith((".c", ".h")):
                with open(os.path.join(d, f), encoding="utf-8", errors="replace") as fh:
                    sources.append(fh.read())
# Without comments: a name a comment mentions may be long gone.  A library
# function the code calls counts as existing.
calls = re.sub(r"/\*.*?\*/", " ", "\n".join(sources), flags=re.S)
FUNC_RE = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)\(\)`")
known = {}
for doc in docs:
    for n, line in enumerate(text_of(doc).splitlines(), 1):
        for m in FUNC_RE.finditer(line):
            name = m.group(1)
            counts["functions"] += 1
            if name not in known:
                # Declared, defined or called outside a comment.
                known[name] = re.search(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"\(",
                                        calls) is not None
            if not known[name]:
                problems.append(f"{doc}:{n}: function {name}() is neither declared nor called"
                                " in core/, fs/, tools/ or include/")

# ---- relative Markdown links -------------------------------------------------
LINK_RE = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
for doc in docs:
    base = os.path.dirname(os.path.join(root, doc))
    for n, line in enumerate(text_of(doc).splitlines(), 1):
        for m in LINK_RE.finditer(line):
            target = m.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue
            counts["links"] += 1
            path = target.split("#", 1)[0]
            full = os.path.normpath(os.path.join(base, path))
            if not os.path.exists(full):
                problems.append(f"{doc}:{n}: link '{target}' does not resolve")
            elif os.path.relpath(full, root).startswith(".."):
                problems.append(f"{doc}:{n}: link '{target}' leaves the repository")

# ---- nothing outside the repository -------------------------------------------
for doc in docs:
    for n, line in enumerate(text_of(doc).splitlines(), 1):
        if "../shared" in line:
            problems.append(f"{doc}:{n}: points outside the repository: {line.strip()}")

# ---- `tsmedia WORD [SUB]` in the README's code --------------------------------
def commands_of(help_text):
    """The first words of the lines of a 'Commands:' list, split at '|'."""
    words, in_list = {}, False
    for line in help_text.splitlines():
        if line.startswith("Commands:"):
            in_list = True
            continue
        if in_list and not line.strip():
            break
        m = re.match(r"^  ([a-z][a-z0-9-]*)(?: ([a-z|-]+))?", line)
        if in_list and m:
            words[m.group(1)] = set(m.group(2).split("|")) if m.group(2) and "|" in m.group(2) else set()
    return words


with open(os.path.join(helpdir, "top"), encoding="utf-8") as f:
    top = commands_of(f.read())
if not top:
    problems.append("tsmedia --help lists no commands")

readme = text_of("README.md")
shown = []  # (line number, words after 'tsmedia')
fenced = False
for n, line in enumerate(readme.splitlines(), 1):
    if line.lstrip().startswith("```"):
        fenced = not fenced
        continue
    if fenced:
        m = re.match(r"^\s*tsmedia((?: +\S+)*)", line)
        if m:
            shown.append((n, m.group(1).split()))
    else:
        for span in re.findall(r"`([^`]*)`", line):
            m = re.match(r"^tsmedia((?: +\S+)*)$", span)
            if m:
                shown.append((n, m.group(1).split()))

sub_help = {}
for n, words in shown:
    # Skip global options and their values: [--store DIR] [-q] [-v].
    rest = [w for w in words if not w.startswith(("[", "-")) and not w.endswith("]")]
    if not rest or not re.match(r"^[a-z][a-z0-9-]*$", rest[0]):
        continue  # a synopsis such as 'tsmedia [--store DIR] ... COMMAND'
    word = rest[0]
    counts["commands"] += 1
    if word not in top:
        problems.append(f"README.md:{n}: 'tsmedia {word}' is not a command of tsmedia --help")
        continue
    if len(rest) < 2 or not re.match(r"^[a-z][a-z|-]*$", rest[1]):
        continue
    if word not in sub_help:
        out = subprocess.run([tsmedia, word, "--help"], capture_output=True, text=True)
        sub_help[word] = out.stdout + out.stderr
    for sub in rest[1].split("|"):
        if not re.search(r"(?m)^  " + re.escape(sub) + r"(\s|$)", sub_help[word]):
            problems.append(f"README.md:{n}: 'tsmedia {word} {sub}' is not in 'tsmedia {word} --help'")

print("  ... checked " + ", ".join(f"{v} {k}" for k, v in counts.items()))
for k in ("paths", "links", "commands"):
    if counts[k] == 0:
        problems.append(f"found no {k} to check: the extraction is broken")
for p in problems:
    print(p, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
then
	fail "README.md or docs/ name paths, functions, links or commands that are not in the tree (listed above)"
fi

pass

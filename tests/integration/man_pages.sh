#!/usr/bin/env bash
# The man pages (docs/man/*.scd, rendered by scdoc at build time):
#   - man -l renders each of tsmedia(1), tsmediafs(8), tsmedia-store(5)
#     with no warning from groff, and each has NAME, SYNOPSIS/DESCRIPTION;
#   - tsmedia(1) names the same commands as `tsmedia --help` (each group's
#     subcommands expanded), and each group's own --help lists the same
#     subcommands as the top-level help;
#   - tsmediafs(8) and `tsmediafs --help` name every -o option that
#     fs/main.c parses (its option_spec).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$TESTS_DIR/../.." && pwd)
MANDIR=${TSMEDIA_MAN_DIR:-$ROOT/build/docs/man}
command -v man >/dev/null || skip "man is not installed (Debian: man-db)"
for page in tsmedia.1 tsmediafs.8 tsmedia-store.5; do
	[[ -f $MANDIR/$page ]] || skip "$MANDIR/$page was not built (Debian: scdoc; meson setup -Dman=enabled)"
done
TSMEDIAFS=${TSMEDIAFS:-$(dirname "$TSMEDIA")/../fs/tsmediafs}
[[ -x $TSMEDIAFS ]] || fail "tsmediafs not found at $TSMEDIAFS"

# render PAGE: the page as text, wide enough that no synopsis wraps.
render() {
	MANWIDTH=1000 MAN_KEEP_FORMATTING=0 man -l -E UTF-8 "$MANDIR/$1" 2>"$WORK/$1.warn" | col -bx
}

check "man -l renders each page without warnings"
for page in tsmedia.1 tsmediafs.8 tsmedia-store.5; do
	MANWIDTH=100 man -l --warnings=all -E UTF-8 "$MANDIR/$page" >"$WORK/$page.txt" 2>"$WORK/$page.warn" ||
		fail "man -l $page exited non-zero: $(head -c 600 "$WORK/$page.warn")"
	[[ ! -s $WORK/$page.warn ]] || fail "man -l $page warned: $(head -c 600 "$WORK/$page.warn")"
	name=${page%.*}
	grep -q "^NAME" "$WORK/$page.txt" || fail "$page has no NAME section"
	grep -q "^DESCRIPTION" "$WORK/$page.txt" || fail "$page has no DESCRIPTION section"
	grep -Eq "^       $name - " "$WORK/$page.txt" || fail "$page's NAME does not start with '$name - '"
	note "$page: $(wc -l <"$WORK/$page.txt") lines"
done

check "tsmedia --help, each group's --help and tsmedia(1) list the same commands"
"$TSMEDIA" --help >"$WORK/help.top"
render tsmedia.1 >"$WORK/tsmedia.1.wide"
# From the top-level help's Commands section: "  GROUP [SUB|SUB...] ...".
sed -n '/^Commands:/,/^$/p' "$WORK/help.top" |
	awk '/^  [a-z]/ { s = substr($0, 3); sub(/  .*/, "", s); split(s, w, " ")
		print w[1], (w[2] ~ /^[a-z]+(\|[a-z]+)*$/ ? w[2] : "") }' >"$WORK/top.groups"
(($(wc -l <"$WORK/top.groups") >= 10)) || fail "found only $(wc -l <"$WORK/top.groups") commands in tsmedia --help"
: >"$WORK/from-help"
while read -r group subs; do
	if [[ -z $subs ]]; then
		echo "$group" >>"$WORK/from-help"
		continue
	fi
	tr '|' '\n' <<<"$subs" | sed "s/^/$group /" >>"$WORK/from-help"
	# The group's own help lists its subcommands as "  SUB ...".
	"$TSMEDIA" "$group" --help | sed -nE 's/^  ([a-z]+)( .*|$)/\1/p' | sort -u >"$WORK/group.$group"
	tr '|' '\n' <<<"$subs" | sort -u >"$WORK/top.$group"
	diff -u "$WORK/top.$group" "$WORK/group.$group" >"$WORK/diff.$group" ||
		fail "tsmedia --help and tsmedia $group --help list different $group commands: $(cat "$WORK/diff.$group")"
done <"$WORK/top.groups"
sort -u -o "$WORK/from-help" "$WORK/from-help"
# From the page's COMMANDS section: every "tsmedia GROUP [SUB]" entry.
sed -n '/^COMMANDS/,/^[A-Z]/p' "$WORK/tsmedia.1.wide" |
	awk '/^       tsmedia [a-z]/ { print $2 ($3 ~ /^[a-z]+$/ ? " " $3 : "") }' | sort -u >"$WORK/from-man"
diff -u "$WORK/from-help" "$WORK/from-man" >"$WORK/diff.cmds" ||
	fail "tsmedia --help (-) and tsmedia(1) (+) differ: $(cat "$WORK/diff.cmds")"
note "$(wc -l <"$WORK/from-man") commands in both: $(tr '\n' ',' <"$WORK/from-man")"

check "tsmediafs(8) and tsmediafs --help name every -o option fs/main.c parses"
# option_spec entries that are not -x/--xxx: what -o passes, "name=%s" or "name".
sed -n '/option_spec\[\] = {/,/FUSE_OPT_END/p' "$ROOT/fs/main.c" |
	sed -nE 's/^[[:space:]]*\{ "([a-z_]+)(=%s)?",.*/\1/p' | sort -u >"$WORK/fs.opts"
(($(wc -l <"$WORK/fs.opts") >= 3)) || fail "found only $(wc -l <"$WORK/fs.opts") -o options in fs/main.c"
render tsmediafs.8 >"$WORK/tsmediafs.8.wide"
"$TSMEDIAFS" --help >"$WORK/fs.help"
while read -r opt; do
	sed -n '/^MOUNT OPTIONS/,/^[A-Z]/p' "$WORK/tsmediafs.8.wide" | grep -Eq "^       -o $opt(=| |$)" ||
		fail "tsmediafs(8)'s MOUNT OPTIONS do not describe -o $opt (parsed in fs/main.c)"
	grep -Eq "^  -o $opt(=| |$)" "$WORK/fs.help" || fail "tsmediafs --help does not describe -o $opt"
done <"$WORK/fs.opts"
note "-o options in fs/main.c, the page and --help: $(tr '\n' ' ' <"$WORK/fs.opts")"

pass

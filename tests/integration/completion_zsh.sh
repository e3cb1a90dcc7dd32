#!/usr/bin/env bash
# zsh completion (tools/completion/_tsmedia), driven as zsh drives it: an
# interactive zsh (no start-up files) in a pseudo-terminal (zsh/zpty) runs
# compinit with tools/completion first in $fpath, a command line is typed and
# Tab pressed, and the matches the completion system adds are read back.
# Checked: commands, subcommands, options of a command (those its --help
# names), option values, live media names, content IDs, application IDs and
# site codes from the store the line names (--store or $TSMEDIA_STORE),
# tsmediafs' -o options, the same under ko_KR.UTF-8 (where the help is in
# Korean); and
# that the options the completion takes to have a value (read from the help
# texts) are exactly those tools/*.c declares with one.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_apps.sh"

ROOT=$(cd "$TESTS_DIR/../.." && pwd)
COMPDIR=$ROOT/tools/completion
[[ -f $COMPDIR/_tsmedia ]] || fail "no $COMPDIR/_tsmedia"
command -v zsh >/dev/null || skip "zsh is not installed (Debian: zsh)"
zsh -f -c 'zmodload zsh/zpty' 2>/dev/null || skip "zsh has no zsh/zpty module"
TSMEDIAFS=${TSMEDIAFS:-$(dirname "$TSMEDIA")/../fs/tsmediafs}
# The completion is for the commands named tsmedia and tsmediafs.
export PATH=$(dirname "$TSMEDIA"):$(cd "$(dirname "$TSMEDIAFS")" && pwd):$PATH

# capture.zsh FPATH_DIR LINE: the matches offered at the end of LINE, one a
# line: compadd is wrapped to print what each call adds, and the completion
# ends the shell when it is done.
cat >"$WORK/capture.zsh" <<'EOF'
zmodload zsh/zpty || exit 2
local setup=$WORK/capture-setup.zsh all= line
cat >$setup <<SETUP
PS1=''
fpath=(${(q)1} \$fpath)
autoload -U compinit
compinit -u -D
compprefuncs=()
comppostfuncs=(_capture_done)
_capture_done() { print -r -- '<<DONE>>'; exit }
compadd() {
	# -O, -A, -D: the caller collects the matches; nothing is added.
	if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
		builtin compadd "\$@"
		return
	fi
	local -a hits
	local h
	builtin compadd -A hits "\$@"
	for h in \$hits; do print -r -- "<<HIT>>\$h"; done
	builtin compadd "\$@"
}
print -r -- '<<READY>>'
SETUP
zpty z zsh -f -i
zpty -w z "source ${(q)setup}"
zpty -r z all '*<<READY>>*'
zpty -n -w z "$2"$'\t'
zpty -r z all '*<<DONE>>*'
zpty -d z
for line in ${(f)all}; do
	if [[ $line == *'<<HIT>>'* ]]; then
		print -r -- "${${line##*<<HIT>>}%%$'\r'*}"
	fi
done
return 0
EOF
export WORK

# complete_line LINE: the completions zsh offers at the end of LINE, sorted.
complete_line() {
	timeout -k 5 60 zsh -f "$WORK/capture.zsh" "$COMPDIR" "$1" | sed '/^$/d' | sort -u ||
		fail "completing '$1' in zsh failed or timed out"
}
# expect and expect_has (lib.sh) use complete_line.
S=$WORK/store
completion_store "$S"
gen apps "[$(simple 1 Tool)]"
tsm "$S" app import "$WORK/apps/a1.xml" >/dev/null 2>"$WORK/app.err" || fail "app import: $(cat "$WORK/app.err")"
mkdir -p "$WORK/cwd/srcdir"
cd "$WORK/cwd"

cmds=$(LC_ALL=C "$TSMEDIA" --help | sed -n '/^Commands:/,/^$/p' | sed -nE 's/^  ([a-z]+)( .*|$)/\1/p')
(($(wc -l <<<"$cmds") >= 10)) || fail "found only $(wc -l <<<"$cmds") commands in tsmedia --help"

run_checks() {
	check "commands and subcommands ($1)"
	# shellcheck disable=SC2086
	expect "tsmedia " $cmds
	expect "tsmedia me" media
	expect "tsmedia --store $S c" capture cert content
	expect "tsmedia media " create edit list show rm export inspect write burn
	expect "tsmedia site " add edit list show rm
	expect "tsmedia app " import list show rm

	check "options from each command's help ($1)"
	expect "tsmedia --st" --store
	expect_has "tsmedia content add --" --kind --name --version --id --as-file --index
	expect "tsmedia stats --" --json
	expect "tsmedia init --c" --compression

	check "option values, and operands after them ($1)"
	expect "tsmedia content add --kind " boot-image os-image package application driver-package prestart
	expect "tsmedia media create --type b" bootable
	expect "tsmedia init --compression " zstd none
	expect "tsmedia site add --type " primary cas
	# A free-text value: nothing; after it, SOURCE is a file.
	expect "tsmedia content add --name " ""
	expect "tsmedia content add --kind package --name x s" srcdir

	check "live names from the store ($1)"
	expect "tsmedia --store $S media show " alpha beta.2
	expect "tsmedia --store $S media show b" beta.2
	expect "tsmedia --store=$S media export " alpha beta.2
	expect "tsmedia --store $S content show " "$ID1" "$ID2"
	expect "tsmedia --store $S media create --type data --name n --content " "$ID1" "$ID2"
	expect "tsmedia --store $S site show " PS1
	expect "tsmedia --store $S app show " "$(app 1)"
	TSMEDIA_STORE=$S expect "tsmedia media rm " alpha beta.2
	expect "tsmedia --store $S media show alpha " ""
	expect "tsmedia --store $S media show --json " alpha beta.2
	expect "tsmedia --store $WORK/none media show " ""

	if [[ -x $TSMEDIAFS ]]; then
		check "tsmediafs ($1)"
		expect_has "tsmediafs -" --store -f -o
		expect_has "tsmediafs /mnt -o " allow_other page_cache scrub= store= max_threads=
		expect "tsmediafs /mnt -o allow_other,pa" page_cache
	fi
}

run_checks "LANG=C"
if korean_help; then
	LANG=ko_KR.UTF-8 LC_ALL=ko_KR.UTF-8 run_checks "ko_KR.UTF-8"
fi

check "the options with a value, read from the help texts, are those tools/*.c declares with one"
sed '/^case \$service in$/,$d' "$COMPDIR/_tsmedia" >"$WORK/functions.zsh"
grep -q '^_tsmedia_options()' "$WORK/functions.zsh" || fail "no _tsmedia_options in $COMPDIR/_tsmedia"
zsh -f -c '
	source $1
	_tsmedia_bin=$2 _tsmedia_store=
	local -a all
	all=(${(f)"$(_tsmedia_options -v)"})
	for cmd in ${(f)"$(_tsmedia_commands)"}; do
		all+=(${(f)"$(_tsmedia_options -v $cmd)"})
		[[ " content media ts app site cert " == *" $cmd "* ]] || continue
		for sub in ${(f)"$(_tsmedia_subcommands $cmd)"}; do
			all+=(${(f)"$(_tsmedia_options -v $cmd $sub)"})
		done
	done
	print -l -- ${(u)all}' zsh "$WORK/functions.zsh" "$TSMEDIA" | grep -- '^--' | sort -u >"$WORK/zsh.values"
grep -ohE '\{ "[a-z0-9-]+", (required|no)_argument' "$ROOT"/tools/*.c | tr -d '{",' | sort -u >"$WORK/opts"
sed -n '/value_names\[TSM_SITE_VALUE_COUNT\] = {/,/^};/p' "$ROOT/core/catalog/site.c" |
	sed -nE 's/.*= "([a-z0-9-]+)",/\1 required_argument/p' >>"$WORK/opts"
grep -q '^http-port required_argument$' "$WORK/opts" || fail "no site value options found in core/catalog/site.c"
awk '$2 == "required_argument" { print "--" $1 }' "$WORK/opts" | sort -u >"$WORK/c.values"
(($(wc -l <"$WORK/c.values") >= 50)) || fail "found only $(wc -l <"$WORK/c.values") options with a value in tools/*.c"
d=$(diff "$WORK/c.values" "$WORK/zsh.values") ||
	fail "options with a value: tools/*.c (<) and the help texts as the zsh completion reads them (>) differ: $d"
note "$(wc -l <"$WORK/zsh.values") options with a value, in both"

pass

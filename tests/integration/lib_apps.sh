# shellcheck shell=bash
# Sourced after lib.sh by the tests of applications (app_import.sh,
# app_media.sh): IDs of the test's applications, and digests written by
# appgen.py (the digest's published shape).

SCOPE=ScopeId_0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9
# guid KIND N: a GUID per object of a test (a: applications, d: deployment
# types, c: contents), lower case as the digest writes them.
guid() { printf '%s%07x-0000-4000-8000-%012x' "$1" "$2" "$2"; }
app() { printf '%s/Application_%s' "$SCOPE" "$(guid a "$1")"; }
dt() { printf '%s/DeploymentType_%s' "$SCOPE" "$(guid d "$1")"; }
cid() { printf 'Content_%s' "$(guid c "$1")"; }

# simple N TITLE [GROUP...]: the JSON (for appgen.py) of application N with one
# deployment type N and one content N of two files (appN.bin, install.cmd),
# depending, one group per GROUP ("APP:DT APP:DT ..."), on others.
simple() {
	local n=$1 title=$2 groups="" g
	shift 2
	for g in "$@"; do
		local deps="" d
		for d in $g; do
			deps+="${deps:+, }[\"$(guid a "${d%%:*}")\", \"$(guid d "${d##*:}")\", \"Required\"]"
		done
		groups+="${groups:+, }{\"name\": \"group $n\", \"deps\": [$deps]}"
	done
	printf '{"file": "a%d.xml", "guid": "%s", "title": "%s", "dts": [{"guid": "%s", "title": "%s install", "tech": "Script", "command": "install.cmd", "contents": [{"guid": "%s", "files": [["app%d.bin", %d], ["install.cmd", 20]]}], "groups": [%s]}]}' \
		"$n" "$(guid a "$n")" "$title" "$(guid d "$n")" "$title" "$(guid c "$n")" "$n" $((70000 + 977 * n)) "$groups"
}

# gen NAME APPS-JSON: appgen.py writes the digests (and content folders) into $WORK/NAME/.
gen() {
	printf '{"scope": "%s", "apps": %s}' "$SCOPE" "$2" >"$WORK/$1.json"
	python3 "$TESTS_DIR/appgen.py" "$WORK/$1.json" "$WORK/$1" || fail "appgen $1 failed"
}

# install_step N...: an Install Application step installing applications N...,
# in the shape Configuration Manager saves it (the SMS_TaskSequence_
# InstallApplicationAction class of Microsoft Learn; the XML as public scripts
# that build such steps write it): smsappinstall.exe /app:<model names, comma
# separated>, an OSDApp<i>Name variable per application and ApplicationName the list.
install_step() {
	local list="" vars="" i=0 a
	for a in "$@"; do
		list+="${list:+,}$(app "$a")"
		vars+="<variable name=\"OSDApp${i}Name\" property=\"AppInfo${i}Name\">$(app "$a")</variable>"
		i=$((i + 1))
	done
	printf '<step type="SMS_TaskSequence_InstallApplicationAction" name="Install Application" description="" runIn="FullOS" successCodeList="0" retryCount="0" runFromNet="false"><action>smsappinstall.exe /app:%s /basevar: /continueOnError:False</action><defaultVarList><variable name="OSDApp" property="AppInfo" hidden="true">%d</variable>%s<variable name="ApplicationName" property="ApplicationName" hidden="true">%s</variable><variable name="OSDAppCount" property="NumApps">%d</variable></defaultVarList></step>' \
		"$list" "$#" "$vars" "$list" "$#"
}

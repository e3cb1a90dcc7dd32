#!/usr/bin/env bash
# The demo: installs what tsmedia needs, builds it, creates a demo store in
# build/demo/store, imports sample content (a bootable boot image made from
# Debian's boot loaders, a package in two versions, a driver package),
# defines media, mounts the store at build/demo/mnt and shows the live
# bootable ISO there, with the QEMU command to boot it.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh --for-demo

tsmedia=$PWD/build/tools/tsmedia
tsmediafs=$PWD/build/fs/tsmediafs
demo=$PWD/build/demo
export TSMEDIA_STORE=$demo/store
fusermount3 -u -z "$demo/mnt" 2>/dev/null || true
rm -rf "$demo"
mkdir -p "$demo/src" "$demo/mnt"

# Sample content, made here: deterministic pseudo-random bytes stand in for
# real binaries so the demo needs nothing from outside.
bytes() { { openssl enc -aes-128-ctr -pass "pass:$2" -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; } | head -c "$1"; }

boot=$demo/src/boot-image
tools/make-boot-demo.sh "$boot"
mkdir -p "$boot/sources"
bytes 48M wim >"$boot/sources/boot.wim"

pkg=$demo/src/package
mkdir -p "$pkg/Scripts"
bytes 24M agent >"$pkg/ccmsetup.msi"
printf '@echo off\r\necho configuring\r\n' >"$pkg/Scripts/configure.cmd"

drivers=$demo/src/drivers
mkdir -p "$drivers/Network" "$drivers/Storage"
bytes 6M net >"$drivers/Network/e1d.sys"
bytes 3M nvme >"$drivers/Storage/stornvme.sys"
printf '[Version]\r\nSignature="$Windows NT$"\r\n' >"$drivers/Network/e1d.inf"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$tsmedia" init --site-code PS1
step "$tsmedia" content add --kind boot-image --name "Boot image (x64)" --version 10.0.22621 "$boot"
step "$tsmedia" content add --kind package --name "Configuration Manager client" --id PS100012 --version 5.00.9128 "$pkg"
# The package's source changes: a new version of the same ID.  Only the
# changed file is stored again.
printf '@echo off\r\necho configuring, v2\r\n' >"$pkg/Scripts/configure.cmd"
step "$tsmedia" content add --kind package --name "Configuration Manager client" --id PS100012 --version 5.00.9128.1 "$pkg"
step "$tsmedia" content add --kind driver-package --name "Dell drivers" "$drivers"
step "$tsmedia" content list
step "$tsmedia" content show PS100012
step "$tsmedia" media create --type data --name demo-boot --content PS100001 --label TSMEDIA_DEMO \
	--bios-boot isolinux/isolinux.bin --boot-load-size 4 --boot-info-table \
	--uefi-boot efi/boot.img --hybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin --hybrid-gpt
step "$tsmedia" media create --type data --name drivers --content PS100002,PS100012

# Task sequence media.  An OS image (a small WIM made here), a site with a
# management point, and a task sequence that installs the OS, the drivers
# and the client from the content above.
mkdir -p "$demo/src/os/Windows/System32"
bytes 8M os >"$demo/src/os/Windows/System32/ntoskrnl.exe"
printf '[fonts]\r\n' >"$demo/src/os/Windows/win.ini"
wimlib-imagex capture "$demo/src/os" "$demo/src/os.wim" "Windows 11 Enterprise" --compress=LZX >/dev/null
step "$tsmedia" content add --kind os-image --name "Windows 11 Enterprise" --id PS100003 "$demo/src/os.wim"
# Two applications as Configuration Manager exports them (their digest,
# SDMPackageXML): a viewer whose deployment type depends on a runtime's.  Each
# content's files are in a folder named by its content ID.
scope=ScopeId_9D3B1E52-4C77-4E0B-A6A1-2F4F1C0D7E11
viewer=Application_5b0c4a1e-7d2f-4f60-9a51-3c1e2d4b6a01
runtime=Application_5b0c4a1e-7d2f-4f60-9a51-3c1e2d4b6a02
apps=$demo/src/apps
mkdir -p "$apps/Content_7e4c2a10-1b3d-4e5f-8a9b-0c1d2e3f4a01" "$apps/Content_7e4c2a10-1b3d-4e5f-8a9b-0c1d2e3f4a02"
bytes 2M viewer >"$apps/Content_7e4c2a10-1b3d-4e5f-8a9b-0c1d2e3f4a01/viewer.msi"
bytes 1M runtime >"$apps/Content_7e4c2a10-1b3d-4e5f-8a9b-0c1d2e3f4a02/runtime.msi"
# app_digest APP TITLE DT CONTENT FILE [DEPENDENCY_APP DEPENDENCY_DT]
app_digest() {
	local deps=
	[[ -n ${6-} ]] && deps="<Dependencies><DeploymentTypeRule xmlns=\"http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/06/14/Rules\" id=\"DTRule_1\" Severity=\"Critical\"><Annotation><DisplayName Text=\"Runtime\"/></Annotation><DeploymentTypeExpression><Operator>Or</Operator><Operands><DeploymentTypeIntentExpression DesiredState=\"Required\"><DeploymentTypeApplicationReference AuthoringScopeId=\"$scope\" LogicalName=\"$6\" Version=\"1\"/><DeploymentTypeReference AuthoringScopeId=\"$scope\" LogicalName=\"$7\" Version=\"1\"/></DeploymentTypeIntentExpression></Operands></DeploymentTypeExpression></DeploymentTypeRule></Dependencies>"
	cat <<-XML
	<?xml version="1.0" encoding="utf-16"?>
	<AppMgmtDigest xmlns="http://schemas.microsoft.com/SystemCenterConfigurationManager/2009/AppMgmtDigest"><Application AuthoringScopeId="$scope" LogicalName="$1" Version="1"><DeploymentTypes><DeploymentType AuthoringScopeId="$scope" LogicalName="$3" Version="1"/></DeploymentTypes><Title ResourceId="Res_1">$2</Title><Publisher ResourceId="Res_2">Contoso</Publisher><SoftwareVersion ResourceId="Res_3">1.0</SoftwareVersion></Application><DeploymentType AuthoringScopeId="$scope" LogicalName="$3" Version="1"><Title ResourceId="Res_4">$2 (MSI)</Title><Technology>MSI</Technology><Installer Technology="MSI"><Contents><Content ContentId="$4" Version="1"><File Name="$5" Size="$(stat -c %s "$apps/$4/$5")"/></Content></Contents><CustomData><InstallCommandLine>msiexec /i "$5" /qn</InstallCommandLine></CustomData></Installer>$deps</DeploymentType></AppMgmtDigest>
	XML
}
app_digest "$runtime" "Contoso Runtime" DeploymentType_6c1d5b2f-8e30-4071-ab62-4d2f3e5c7b02 \
	Content_7e4c2a10-1b3d-4e5f-8a9b-0c1d2e3f4a02 runtime.msi >"$apps/runtime.xml"
app_digest "$viewer" "Contoso Viewer" DeploymentType_6c1d5b2f-8e30-4071-ab62-4d2f3e5c7b01 \
	Content_7e4c2a10-1b3d-4e5f-8a9b-0c1d2e3f4a01 viewer.msi \
	"$runtime" DeploymentType_6c1d5b2f-8e30-4071-ab62-4d2f3e5c7b02 >"$apps/viewer.xml"
step "$tsmedia" app import --content "$apps" "$apps/runtime.xml"
step "$tsmedia" app import --content "$apps" "$apps/viewer.xml"
step "$tsmedia" app show "$scope/$viewer"
cat >"$demo/src/deploy.xml" <<XML
<sequence version="3.10">
  <referenceList>
    <reference package="PS100003" program="*"/>
    <reference package="PS100002" program="*"/>
    <reference package="PS100012" program="*"/>
  </referenceList>
  <group name="Install Operating System">
    <step type="SMS_TaskSequence_PartitionDiskAction" name="Partition Disk 0">
      <action>osddiskpart.exe</action>
    </step>
    <step type="SMS_TaskSequence_ApplyOperatingSystemAction" name="Apply Operating System">
      <action>osdapplyos.exe /image:PS100003,1</action>
    </step>
    <step type="SMS_TaskSequence_ApplyDriverPackageAction" name="Apply Driver Package">
      <defaultVarList><variable name="OSDApplyDriverDriverPackageID" property="DriverPackageID">PS100002</variable></defaultVarList>
      <action>osddriverclient.exe /install:PS100002</action>
    </step>
    <step type="SMS_TaskSequence_SetupWindowsAndSMSAction" name="Setup Windows and Configuration Manager">
      <defaultVarList><variable name="_SMSClientPackageID" property="ClientPackageID">PS100012</variable></defaultVarList>
      <action>osdsetupwindows.exe</action>
    </step>
    <step type="SMS_TaskSequence_InstallApplicationAction" name="Install Application">
      <action>smsappinstall.exe /app:$scope/$viewer /basevar: /continueOnError:False</action>
      <defaultVarList>
        <variable name="OSDApp" property="AppInfo" hidden="true">1</variable>
        <variable name="OSDApp0Name" property="AppInfo0Name">$scope/$viewer</variable>
        <variable name="ApplicationName" property="ApplicationName" hidden="true">$scope/$viewer</variable>
        <variable name="OSDAppCount" property="NumApps">1</variable>
      </defaultVarList>
    </step>
  </group>
</sequence>
XML
step "$tsmedia" ts import --name "Deploy Windows 11" --id PS100010 --boot-image PS100001 "$demo/src/deploy.xml"
# What only a site knows and its bootable and prestaged media carry: a real site's values come
# from the site (or from a media it made: tsmedia media inspect --show-secrets); these are
# the demo's own.
step "$tsmedia" site add --code PS1 --type primary --mp http://mp1.contoso.com \
	--http-port 80 --https-port 443 --iis-ssl-state 0 --signing-certificate 3082ABCD
# Strong enough for the media password check (one GPU would need more than a year).
printf 'demo media password: larch quartz fennel\n' >"$demo/password"
boot_opts=(--bios-boot isolinux/isolinux.bin --boot-load-size 4 --boot-info-table --uefi-boot efi/boot.img)
step "$tsmedia" media create --type capture --name capture --boot-image PS100001 "${boot_opts[@]}"
step "$tsmedia" media create --type bootable --name bootable --boot-image PS100001 --no-password \
	--site PS1 --management-point http://mp1.contoso.com --self-signed-certificate "${boot_opts[@]}"
# Stand-alone media carry the viewer's content and, with --include-dependencies,
# the runtime's it depends on (SMS/PKG/Content_<GUID>/ each).
step "$tsmedia" media create --type standalone --name standalone --task-sequence PS100010 \
	--password-file "$demo/password" --variable OSDComputerName=DEMO01 --include-dependencies \
	"${boot_opts[@]}"
step "$tsmedia" media create --type prestaged --name prestaged --boot-image PS100001 --os-image PS100003 \
	--task-sequence PS100010 --password-file "$demo/password" --site PS1 \
	--management-point http://mp1.contoso.com --created-by "tsmedia demo" --version 1.0
# A boot image as Configuration Manager has it: a Windows PE boot.wim
# (WinPE-shaped, its etfsboot.com and efisys.bin stand-ins print banners).
# The WIM is kept whole as sources/boot.wim; its boot files go where media
# need them, and the media boot as oscdimg's would.
tools/make-winpe-demo.sh "$demo/src/winpe.wim"
step "$tsmedia" content add --kind boot-image --name "WinPE boot image (x64)" --id PS100020 "$demo/src/winpe.wim"
step "$tsmedia" content show PS100020
step "$tsmedia" media create --type bootable --name winpe-bootable --boot-image PS100020 --no-password \
	--site PS1 --management-point http://mp1.contoso.com --self-signed-certificate
step "$tsmedia" media create --type bootable --name winpe-usb --boot-image PS100020 --no-password \
	--site PS1 --management-point http://mp1.contoso.com --self-signed-certificate --media usb
step "$tsmedia" media show winpe-bootable
step "$tsmedia" media list
step "$tsmedia" verify
step "$tsmedia" stats
step "$tsmedia" mount "$demo/mnt"
step ls -l "$demo/mnt"

# Boots the WinPE media from the mount: BANNER on the serial port within
# two minutes, or the demo says it did not boot.
boot_demo() {
	local what=$1 banner=$2 log=$demo/boot.log
	shift 2
	: >"$log"
	printf '\n\033[1m$ qemu-system-x86_64 %s\033[0m\n' "$*"
	timeout 120 qemu-system-x86_64 -m 256 -nographic -monitor none -no-reboot \
		-serial "file:$log" "$@" >/dev/null 2>&1 &
	local pid=$! i
	for i in $(seq 600); do
		grep -aq "$banner" "$log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	if grep -aq "$banner" "$log"; then
		echo "$what: booted ('$banner')"
	else
		echo "$what: did NOT boot (no '$banner' on the serial port)" >&2
		return 1
	fi
}
boot_demo "winpe-bootable.iso under BIOS" "etfsboot.com started by the BIOS" -cdrom "$demo/mnt/winpe-bootable.iso"
boot_demo "winpe-bootable.iso under UEFI" "efisys.bin started by UEFI" \
	-bios /usr/share/ovmf/OVMF.fd -cdrom "$demo/mnt/winpe-bootable.iso"
boot_demo "winpe-usb.img under UEFI" "bootx64.efi started by UEFI" -bios /usr/share/ovmf/OVMF.fd \
	-drive "file=$demo/mnt/winpe-usb.img,format=raw,if=virtio,readonly=on"

cat <<MSG

The demo store is in $TSMEDIA_STORE, mounted at $demo/mnt: every
media there is a live file assembled on read.  Try:

  export TSMEDIA_STORE=$TSMEDIA_STORE
  # boot the live ISO (BIOS, then UEFI); each prints a banner and powers off
  qemu-system-x86_64 -m 256 -nographic -no-reboot -cdrom $demo/mnt/demo-boot.iso
  qemu-system-x86_64 -m 256 -nographic -no-reboot -bios /usr/share/ovmf/OVMF.fd -cdrom $demo/mnt/demo-boot.iso
  # the stand-alone media boots the same way; read it as a client would
  $tsmedia media inspect $demo/mnt/standalone.iso --password-file $demo/password
  # the WinPE boot image's media: sources/boot.wim is the imported WIM
  xorriso -indev $demo/mnt/winpe-bootable.iso -report_el_torito plain
  wimlib-imagex dir $demo/mnt/prestaged.wim
  # change content: the media follows on the next open, no command on the media
  echo changed >$pkg/Scripts/configure.cmd
  $tsmedia content add --kind package --name "Configuration Manager client" --id PS100012 $pkg
  sha256sum $demo/mnt/drivers.iso
  $tsmedia gc                       # drops what nothing references any more
  fusermount3 -u $demo/mnt          # unmount
MSG

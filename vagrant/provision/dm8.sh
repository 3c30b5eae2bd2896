#!/bin/sh
# Install a real DM8 build silently from a user-supplied installer (the seed's 三.3/三.4), as root.
# Usage: dm8.sh INSTALLER        (DMInstall.bin; the seed's zip/iso must be unpacked to it first)
# The installer runs as dmdba with an auto_install.xml (DM8's silent mode: DMInstall.bin -q FILE),
# typical install (INSTALL_TYPE 0), time zone +08:00 as the seed chooses, no key, no database.
# Run after common.sh. DM_HOME (default /opt/dm8) is the installation path.
set -eu
DM_HOME=${DM_HOME:-/opt/dm8}
installer=${1:?usage: dm8.sh INSTALLER}
[ -f "$installer" ] || { echo "dm8.sh: DM8 installer '$installer' does not exist" >&2; exit 2; }
case "$installer" in
    *.zip|*.iso) echo "dm8.sh: '$installer' is an archive; unpack it and pass its DMInstall.bin" >&2; exit 2 ;;
esac
id dmdba >/dev/null 2>&1 || { echo "dm8.sh: user dmdba is missing; run common.sh first" >&2; exit 2; }

work=$(mktemp -d /tmp/dm8-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$installer" "$work/DMInstall.bin"
chmod 755 "$work/DMInstall.bin"
cat > "$work/auto_install.xml" <<XML
<?xml version="1.0"?>
<DATABASE>
    <LANGUAGE>en</LANGUAGE>
    <TIME_ZONE>+08:00</TIME_ZONE>
    <KEY></KEY>
    <INSTALL_TYPE>0</INSTALL_TYPE>
    <INSTALL_PATH>$DM_HOME</INSTALL_PATH>
    <INIT_DB></INIT_DB>
</DATABASE>
XML
chown -R dmdba:dinstall "$work" "$DM_HOME"
su - dmdba -c "cd '$work' && DM_INSTALL_TMPDIR='$work' ./DMInstall.bin -q '$work/auto_install.xml'"
# root_installer.sh registers DmAPService with systemd; containers have no systemd, VMs do.
if [ -x "$DM_HOME/script/root/root_installer.sh" ] && [ -d /run/systemd/system ]; then
    "$DM_HOME/script/root/root_installer.sh"
fi
for tool in dminit dmserver disql dmrman dmwatcher dmmonitor; do
    [ -x "$DM_HOME/bin/$tool" ] || { echo "dm8.sh: the installer did not produce $DM_HOME/bin/$tool" >&2; exit 1; }
done
echo "dm8.sh: DM8 installed in $DM_HOME"

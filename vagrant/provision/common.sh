#!/bin/sh
# The seed's section 三 (DM software installation prerequisites) on one host, as root. Idempotent.
#   三.1 group dinstall (gid 12349), user dmdba (uid 12345, password Mema_1234), /opt/software, DM_HOME
#   三.2 limits.conf lines for dmdba (nproc 10240, nofile 65536)
#   三.5 PATH with DM_HOME/bin (and the rlwrap aliases) in ~dmdba/.bash_profile
# Used by the Vagrantfile and by the Docker images (containers/emulator, containers/dm8), so the same
# script is exercised by tests/docker. Settings come from the environment:
#   DM_HOME (default /opt/dm8), DMDBA_PASSWORD (default Mema_1234), DMDW_TZ (default Asia/Shanghai).
set -eu
DM_HOME=${DM_HOME:-/opt/dm8}
DMDBA_PASSWORD=${DMDBA_PASSWORD:-Mema_1234}
DMDW_TZ=${DMDW_TZ:-Asia/Shanghai}
DMDBA_UID=12345
DINSTALL_GID=12349

if [ "$(id -u)" != 0 ]; then
    echo "common.sh: run as root (it creates the dmdba user and edits /etc/security/limits.conf)" >&2
    exit 2
fi
case "$DM_HOME" in
    /*) ;;
    *) echo "common.sh: DM_HOME must be an absolute path, got '$DM_HOME'" >&2; exit 2 ;;
esac

# Packages on a fresh VM (the Docker base image already has them).
# The list is the base image's own (containers/base/packages.txt in the repository).
here=$(cd "$(dirname "$0")" && pwd)
packages=${DMDW_PACKAGES:-$here/../../containers/base/packages.txt}
if [ -f "$packages" ] && command -v dpkg-query >/dev/null 2>&1; then
    missing=""
    for p in $(grep -v '^[[:space:]]*#' "$packages" | grep -v '^[[:space:]]*$'); do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        # shellcheck disable=SC2086
        apt-get install -y -q $missing
    fi
fi

# 三.1 users, groups, directories
if getent group dinstall >/dev/null; then
    [ "$(getent group dinstall | cut -d: -f3)" = "$DINSTALL_GID" ] || {
        echo "common.sh: group dinstall exists with a gid other than $DINSTALL_GID" >&2; exit 1; }
else
    groupadd -g "$DINSTALL_GID" dinstall
fi
if id dmdba >/dev/null 2>&1; then
    [ "$(id -u dmdba)" = "$DMDBA_UID" ] || { echo "common.sh: user dmdba exists with a uid other than $DMDBA_UID" >&2; exit 1; }
else
    useradd -u "$DMDBA_UID" -g dinstall -m -d /home/dmdba -s /bin/bash dmdba
fi
echo "dmdba:$DMDBA_PASSWORD" | chpasswd
mkdir -p /opt/software "$DM_HOME"
chown -R dmdba:dinstall "$DM_HOME"

# 三.2 resource limits
limits=/etc/security/limits.conf
touch "$limits"
for line in "dmdba	soft	nproc	10240" "dmdba	hard	nproc	10240" \
            "dmdba	soft	nofile	65536" "dmdba	hard	nofile	65536"; do
    grep -qxF "$line" "$limits" || printf '%s\n' "$line" >> "$limits"
done
# su - dmdba must apply them (pam_limits), as the seed checks with ulimit -a.
if [ -f /etc/pam.d/su ] && ! grep -q '^session[[:space:]].*pam_limits.so' /etc/pam.d/su; then
    printf 'session    required   pam_limits.so\n' >> /etc/pam.d/su
fi

# 三.5 environment of dmdba
profile=/home/dmdba/.bash_profile
touch "$profile"
marker="# dmdw: DM_HOME"
if ! grep -qF "$marker" "$profile"; then
    cat >> "$profile" <<PROFILE
$marker
[ -f ~/.bashrc ] && . ~/.bashrc
export DM_HOME=$DM_HOME
PATH=\$PATH:\$HOME/.local/bin:\$HOME/bin:$DM_HOME/bin
export PATH
export LD_LIBRARY_PATH=\${LD_LIBRARY_PATH:+\$LD_LIBRARY_PATH:}$DM_HOME/bin
command -v rlwrap >/dev/null 2>&1 && { alias disql="rlwrap disql"; alias dmrman="rlwrap dmrman"; }
PROFILE
fi
chown dmdba:dinstall "$profile"

# The seed's hosts run on China Standard Time.
if [ -f "/usr/share/zoneinfo/$DMDW_TZ" ]; then
    ln -sf "/usr/share/zoneinfo/$DMDW_TZ" /etc/localtime
    echo "$DMDW_TZ" > /etc/timezone
fi
echo "common.sh: dmdba/dinstall, limits, /opt/software, $DM_HOME ready"

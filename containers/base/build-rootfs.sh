#!/bin/sh
# Build the dmdw base root file system with debootstrap from a Debian mirror (no container registry needed).
# Usage: build-rootfs.sh ROOTFS_DIR MIRROR_URL [SUITE]
# Packages come from packages.txt beside this script. Must run as root.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
rootfs=${1:?usage: build-rootfs.sh ROOTFS_DIR MIRROR_URL [SUITE]}
mirror=${2:?usage: build-rootfs.sh ROOTFS_DIR MIRROR_URL [SUITE]}
suite=${3:-bookworm}
if [ "$(id -u)" != 0 ]; then
    echo "build-rootfs.sh: debootstrap needs root; run the build as root" >&2
    exit 2
fi
command -v debootstrap >/dev/null || { echo "build-rootfs.sh: install debootstrap (apt-get install debootstrap)" >&2; exit 2; }
include=$(grep -v '^[[:space:]]*#' "$here/packages.txt" | grep -v '^[[:space:]]*$' | paste -sd, -)
rm -rf "$rootfs"
mkdir -p "$rootfs"
debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$mirror"
# Keep the image small and reproducible-ish: no apt lists, caches or logs.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
       "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/tmp/* 2>/dev/null || true
printf 'deb %s %s main\n' "$mirror" "$suite" > "$rootfs/etc/apt/sources.list"
# The seed sets every host to China Standard Time.
ln -sf /usr/share/zoneinfo/Asia/Shanghai "$rootfs/etc/localtime"
echo Asia/Shanghai > "$rootfs/etc/timezone"

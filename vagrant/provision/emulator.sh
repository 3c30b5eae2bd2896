#!/bin/sh
# Install the bundled DM8 emulator (package dmemu) OFFLINE as this host's "DM8 software", as root.
# Usage: emulator.sh EMULATOR_DIR [CLIENTLIB_DIR]
#   EMULATOR_DIR   the repository's emulator/ folder (pyproject.toml + dmemu/)
#   CLIENTLIB_DIR  optional folder of pure-Python packages copied beside dmemu (the harness passes the
#                  DM client library dm-pure, package dmpy, that the emulator's disql/dmrman dial with)
# Puts dmemu on python3's path with a .pth file (no pip, no download) and writes DM8-named wrappers
# (dminit, dmserver, disql, dmrman, dmwatcher, dmmonitor — from [project.scripts]) into DM_HOME/bin.
# Without CLIENTLIB_DIR and with no DM client library importable, it tries `pip install dm-pure`
# (a VM with internet access); an offline host must pass CLIENTLIB_DIR.
# Run after common.sh. DM_HOME defaults to /opt/dm8.
set -eu
DM_HOME=${DM_HOME:-/opt/dm8}
src=${1:?usage: emulator.sh EMULATOR_DIR [CLIENTLIB_DIR]}
clientlib=${2:-}
[ -f "$src/pyproject.toml" ] && [ -d "$src/dmemu" ] || {
    echo "emulator.sh: $src is not the emulator folder (needs pyproject.toml and dmemu/)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "emulator.sh: python3 is missing; run common.sh first" >&2; exit 2; }

# A private copy, so a later change to the source tree does not change an installed host.
lib=/usr/local/lib/dmemu
rm -rf "$lib"
mkdir -p "$lib"
cp -r "$src/dmemu" "$lib/dmemu"
cp "$src/pyproject.toml" "$lib/"
if [ -n "$clientlib" ]; then
    [ -d "$clientlib" ] || { echo "emulator.sh: client library folder $clientlib does not exist" >&2; exit 2; }
    cp -r "$clientlib"/. "$lib/"
fi
find "$lib" -name __pycache__ -prune -exec rm -rf {} +
site=$(python3 -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
mkdir -p "$site"
echo "$lib" > "$site/dmemu.pth"
# Debian ships pycryptodome as "Cryptodome" (the pycryptodomex layout); dmemu imports "Crypto".
if ! python3 -c 'import Crypto.Cipher.DES' 2>/dev/null && python3 -c 'import Cryptodome' 2>/dev/null; then
    ln -sfn "$(python3 -c 'import Cryptodome, os; print(os.path.dirname(Cryptodome.__file__))')" "$site/Crypto"
fi

if ! python3 -c 'import dmpy' 2>/dev/null && ! python3 -c 'import dmPython' 2>/dev/null; then
    echo "emulator.sh: no DM client library; trying pip install dm-pure" >&2
    if ! python3 -m pip --version >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-pip >&2 || true
    fi
    python3 -m pip install --break-system-packages dm-pure >&2 || {
        echo "emulator.sh: install dm-pure (pip install dm-pure) or pass CLIENTLIB_DIR with its dmpy package" >&2
        exit 1; }
fi

mkdir -p "$DM_HOME/bin"
python3 - "$lib/pyproject.toml" "$DM_HOME/bin" <<'PY'
import os, sys, tomllib
scripts = tomllib.load(open(sys.argv[1], "rb"))["project"]["scripts"]
for name, target in scripts.items():
    module, func = target.split(":")
    path = os.path.join(sys.argv[2], name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n# DM8 emulator tool (dmemu); installed by vagrant/provision/emulator.sh\n")
        f.write(f"exec python3 -c 'import sys; sys.argv[0] = \"{name}\"; "
                f"from {module} import {func} as m; sys.exit(m())' \"$@\"\n")
    os.chmod(path, 0o755)
    print(name)
PY
# The service registration scripts of DM8's script/root (seed 四.3, 十), run as root.
mkdir -p "$DM_HOME/script/root"
for pair in dm_service_installer.sh:installer_main dm_service_uninstaller.sh:uninstaller_main; do
    name=${pair%%:*}
    printf '#!/bin/sh\n# DM8 emulator service registration (dmemu); installed by vagrant/provision/emulator.sh\n%s\n' \
        "DM_HOME=$DM_HOME exec python3 -c 'import sys; sys.argv[0] = \"$name\"; from dmemu.tools.service import ${pair#*:} as m; sys.exit(m())' \"\$@\"" \
        > "$DM_HOME/script/root/$name"
    chmod 755 "$DM_HOME/script/root/$name"
done
chown -R dmdba:dinstall "$DM_HOME"
python3 -c 'import dmemu' || { echo "emulator.sh: dmemu does not import after install" >&2; exit 1; }
echo "emulator.sh: emulator installed in $DM_HOME/bin"

"""The inventory (--dw-inventory): every bad entry is one sentence naming the host and key; no secret in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.inventory import load_inventory
from harness.settings import Settings


def write(tmp_path: Path, host1: str = "", site: str = 'sysdba_password = "env:DMDW_TEST_PWD"', extra: str = "") -> Path:
    key = tmp_path / "key"
    key.write_text("not a real key\n")
    common = f'user = "root"\nkey_file = "{key}"\ndm_home = "/opt/dm8"\ndata_path = "/opt/dm8/data"\n'
    text = (f"[site]\n{site}\n\n[hosts.host1]\nrole = \"primary\"\naddress = \"10.0.0.1\"\n"
            f"{host1 or common}\n[hosts.host2]\nrole = \"standby\"\naddress = \"10.0.0.2\"\n{common}\n"
            f"[hosts.monitor]\nrole = \"monitor\"\naddress = \"10.0.0.3\"\n{common}\n{extra}")
    p = tmp_path / "site.toml"
    p.write_text(text)
    return p


def test_good_inventory_loads(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path))
    assert sorted(inv.hosts) == ["host1", "host2", "monitor"]
    assert inv.hosts["host1"].port == 22 and inv.hosts["host1"].os_user == "dmdba"
    assert inv.sysdba_password_source == "env:DMDW_TEST_PWD"


BAD = [
    ('user = "root"\nkey_file = "/k"\ndm_home = "/opt/dm8"\ndata_path = "/d"\ncolour = "red"\n',
     "unknown key hosts.host1.colour"),
    ('user = "root"\nkey_file = "/nonexistent/key"\ndm_home = "/opt/dm8"\n', "hosts.host1 is missing data_path"),
    ('user = "root"\nkey_file = "/nonexistent/key"\ndm_home = "/opt/dm8"\ndata_path = "/d"\n',
     "hosts.host1.key_file /nonexistent/key: no such file"),
    ('user = "root"\npassword = "Mema_1234"\ndm_home = "/opt/dm8"\ndata_path = "/d"\n',
     "hosts.host1.password must be \"env:NAME\" or \"prompt\""),
    ('user = "dmdba"\npassword = "env:X"\ndm_home = "/opt/dm8"\ndata_path = "/d"\n',
     "user 'dmdba' without sudo cannot act as root"),
    ('user = "root"\npassword = "env:X"\ndm_home = "opt/dm8"\ndata_path = "/d"\n',
     "hosts.host1.dm_home must be an absolute path"),
    ('user = "root"\npassword = "env:X"\ndm_home = "/opt/dm8"\ndata_path = "/d"\nport = "22"\n',
     "hosts.host1.port must be an integer"),
]


@pytest.mark.parametrize(("host1", "message"), BAD, ids=["unknown-key", "missing-field", "no-key-file",
                                                        "literal-password", "no-sudo", "relative-path", "port-type"])
def test_bad_host_entry_is_one_line(tmp_path: Path, host1: str, message: str) -> None:
    with pytest.raises(UsageError) as exc:
        load_inventory(write(tmp_path, host1=host1))
    text = str(exc.value)
    assert message in text and "\n" not in text, text
    assert "Mema_1234" not in text


def test_site_needs_a_password_source(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="site is missing sysdba_password"):
        load_inventory(write(tmp_path, site='name = "x"'))


def test_password_from_unset_env_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DMDW_TEST_PWD", raising=False)
    inv = load_inventory(write(tmp_path))
    with pytest.raises(UsageError, match="environment variable DMDW_TEST_PWD, which is not set"):
        inv.sysdba_password()


def test_options_go_together(tmp_path: Path) -> None:
    inv = str(write(tmp_path))
    with pytest.raises(UsageError, match="needs --dw-inventory"):
        Settings.build(backend="ssh", existing=True)
    with pytest.raises(UsageError, match="add --dw-existing"):
        Settings.build(backend="ssh", inventory=inv)
    with pytest.raises(UsageError, match="--dw-existing needs --dw-backend ssh"):
        Settings.build(backend="local", existing=True)
    with pytest.raises(UsageError, match="applies to --dw-existing only"):
        Settings.build(backend="local", allow_destructive=True)
    s = Settings.build(backend="ssh", inventory=inv, existing=True)
    assert s.existing and s.inventory is not None and not s.allow_destructive


def test_unrestorable_tests_are_skipped_on_an_existing_deployment(tmp_path: Path) -> None:
    """own_group tests are skipped on --dw-existing even with --dw-allow-destructive, with their reason; the
    other unsafe ones only without it. Every test here is skipped at collection, so no host is contacted."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    inv = write(tmp_path)

    def run(*extra: str) -> str:
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                            "suites/lifecycle/test_auto_needs_confirm.py", "--dw-backend", "ssh",
                            "--dw-inventory", str(inv), "--dw-existing", "--dw-report-dir", str(tmp_path / "r"),
                            *extra], cwd=root, capture_output=True, text=True, timeout=120,
                           env={**os.environ, "DMDW_TEST_PWD": "x"})
        assert r.returncode == 0 and "1 skipped" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
        return r.stdout

    for extra in ((), ("--dw-allow-destructive",)):
        out = run(*extra)
        assert "cannot be restored on an existing deployment: it exits the group's only confirm monitor" in out

"""Issue 13: the sign-off page of a run on an existing deployment names it (hosts, DM build, what was
discovered), lists the checks skipped as destructive and the restore log of every destructive test."""

from __future__ import annotations

import subprocess
from pathlib import Path

from reportdemo import latest_run, pytest_cmd, pytest_env

from harness.report.accepted import accepted_html

ENV = {
    "dm_build": {"SVR_VERSION": "DM Database Server 64 V8", "BUILD_VERSION": "1-3-140-xyz"},
    "topology": {"group": "GRP1", "oguid": "453331", "dw_mode": "MANUAL"},
    "accepted": {"inventory": "/x/site.toml", "site": "lab-a",
                 "files": {"host1": ["/opt/dm8/data/memadb/dm.ini"]},
                 "hosts": {"host1": {"address": "10.0.0.1", "instance": "mema1", "inventory_role": "primary",
                                     "live_role": "primary", "status": "OPEN"}},
                 "archives": {"mema1": ["LOCAL", "REALTIME"]}, "notes": ["host1: no /etc/dm_svc.conf"]},
    "restores": [{"after": "suites/failover/test_takeover.py::test_t", "ok": True, "seconds": 9.5,
                  "actions": ["rebuilt mema1 from mema2 online (十二.2.4)", "switchover mema2 -> mema1"],
                  "roles": {"mema1": "PRIMARY", "mema2": "STANDBY"}},
                 {"after": "suites/lifecycle/test_x.py::test_y", "ok": False, "actions": [],
                  "roles": {"mema1": "STANDBY", "mema2": "PRIMARY"}, "seconds": 30}],
}


def test_the_section_names_deployment_skips_and_restores() -> None:
    skips = {"suites/chaos/test_c.py::test_a": "destructive on an existing deployment (chaos suite): run with ...",
             "suites/topology/test_t.py::test_b": "needs four DB hosts"}
    html = accepted_html(ENV, skips)
    for text in ("lab-a", "1-3-140-xyz", "10.0.0.1", "mema1", "LOCAL, REALTIME", "/opt/dm8/data/memadb/dm.ini",
                 "no /etc/dm_svc.conf", "OGUID 453331"):
        assert text in html, text
    assert "skipped as destructive" in html and "test_c.py::test_a" in html and "test_t.py::test_b" not in html
    assert "Restores after destructive tests: 2, 1 failed" in html
    assert "switchover mema2 -&gt; mema1" in html and "test_takeover.py::test_t" in html
    assert "mema1=STANDBY" in html and "NO" in html


def test_a_run_without_an_accepted_deployment_has_no_section() -> None:
    assert accepted_html({"dm_build": {}}, {"a": "destructive on an existing deployment"}) == ""


def test_the_section_is_on_the_sign_off_page(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (tmp_path / "test_a.py").write_text(f'''
import pytest

def test_accepts(request):
    request.config.dmdw_env = {ENV!r}  # what harness.plugin keeps on an --dw-existing run

@pytest.mark.skip(reason="destructive on an existing deployment (failover suite): run with --dw-allow-destructive")
def test_destructive():
    pass
''')
    proc = subprocess.run(pytest_cmd(tmp_path, "-q"), cwd=tmp_path, env=pytest_env(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=90)
    assert proc.returncode == 0, proc.stdout
    html = (latest_run(tmp_path) / "report.html").read_text()
    assert html.index("dw-signoff-table") < html.index('id="dw-accepted"') < html.index("dw-files")
    assert "lab-a" in html and "test_a.py::test_destructive" in html and "Restores after destructive tests: 2" in html

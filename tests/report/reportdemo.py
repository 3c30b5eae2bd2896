"""Helpers for tests/report: run the demo suite in a subprocess pytest, and look at its report in Chromium.

Also a script: `python tests/report/reportdemo.py OUT.png` renders the demo report and screenshots it
(docs/img/report.png is made this way).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# Appended to a copy of a page: once it is loaded (after pytest-html's script rendered the report), a JS
# object expression (it may call vis(el): laid out with a size, not display:none/visibility:hidden) is
# written as JSON into a <pre id="dw-probe">.
_PROBE_FRAME = """
<script>
(function () {
  function vis(el) {
    if (!el) return false;
    var r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.display !== 'none' && s.visibility !== 'hidden';
  }
  function external() {
    return Array.prototype.slice.call(document.querySelectorAll('img[src],script[src],link[href]'))
      .map(function (e) { return e.getAttribute('src') || e.getAttribute('href'); })
      .filter(function (u) { return u && !/^data:/.test(u); });
  }
  function probe() {
    var res = RESULT;
    res.external = external();
    var pre = document.createElement('pre');
    pre.id = 'dw-probe';
    pre.textContent = JSON.stringify(res);
    document.body.appendChild(pre);
  }
  if (document.readyState === 'complete') probe(); else window.addEventListener('load', probe);
})();
</script>
"""


def probe_script(result_js: str) -> str:
    """A probe for probe(): result_js is a JS expression giving an object (it may call vis(el)); the
    result also gets `external`, every script, style or image the page would fetch."""
    return _PROBE_FRAME.replace("RESULT", "(function () { " + result_js + " })()")


# What the report test looks at: the sign-off table, the environment table, the embedded plots, the title.
PROBE = probe_script("""
    var env = document.getElementById('environment');
    var signoff = document.getElementById('dw-signoff-table');
    var imgs = Array.prototype.slice.call(document.querySelectorAll('img[src^="data:image/png;base64,"]'));
    return {
      signoff_visible: vis(signoff),
      signoff_rows: signoff ? signoff.querySelectorAll('tbody tr').length : 0,
      signoff_text: signoff ? signoff.innerText : '',
      env_visible: vis(env),
      env_text: env ? env.innerText : '',
      images_visible: imgs.filter(function (i) { return vis(i) && i.naturalWidth > 0; }).length,
      title: document.getElementById('title') ? document.getElementById('title').innerText : '',
    };""")


def write_demo(folder: Path) -> None:
    """Lay out the demo suite (test file, conftest, pytest.ini) in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "demo_suite.py", folder / "test_demo.py")
    shutil.copy(HERE / "demo_conftest.py", folder / "conftest.py")
    (folder / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")


def pytest_cmd(folder: Path, *args: str) -> list[str]:
    """The command line running pytest on the demo folder with the report plugin and its own report dir."""
    return [sys.executable, "-m", "pytest", "-p", "harness.report", "--dw-report-dir",
            str(folder / "reports"), *args]


def pytest_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def run_demo(folder: Path, *args: str, timeout: float = 90, **env: str) -> subprocess.CompletedProcess:
    """Run the demo suite to completion; returns the finished process (stdout+stderr in .stdout)."""
    write_demo(folder)
    return subprocess.run(pytest_cmd(folder, *args), cwd=folder, env=pytest_env(**env), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)


def latest_run(folder: Path) -> Path:
    """The run folder reports/latest points at."""
    return (folder / "reports" / "latest").resolve()


def chromium() -> str | None:
    """Debian's chromium (installed by scripts/setup), never a downloaded browser."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium_run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run headless Chromium in its own process group with a throwaway profile; kill the group on exit."""
    exe = chromium()
    if exe is None:
        raise RuntimeError("chromium is not installed: run scripts/setup (Debian package 'chromium')")
    profile = tempfile.mkdtemp(prefix="dw-chromium-")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
           "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def probe(html: Path, workdir: Path, timeout: float = 60, script: str = PROBE) -> dict:
    """Open a probed copy of html in headless Chromium and return what was visible (see PROBE; another
    page passes its own script, which writes its findings as JSON into <pre id="dw-probe">)."""
    copy = workdir / "probe.html"
    text = html.read_text(encoding="utf-8")
    copy.write_text(text.replace("</body>", script + "</body>", 1), encoding="utf-8")
    res = _chromium_run(["--virtual-time-budget=5000", "--window-size=1280,2400", "--dump-dom",
                         copy.as_uri()], timeout)
    start = res.stdout.find('<pre id="dw-probe">')
    if start < 0:
        raise AssertionError(f"the probe did not run in chromium (rc={res.returncode}): {res.stderr[-800:]}")
    body = res.stdout[start + len('<pre id="dw-probe">'):res.stdout.index("</pre>", start)]
    import html as _html

    return json.loads(_html.unescape(body))


def screenshot(html: Path, out: Path, *, width: int = 1280, height: int = 2400, timeout: float = 60) -> Path:
    """A PNG screenshot of html (the top `height` pixels) in headless Chromium."""
    res = _chromium_run(["--virtual-time-budget=5000", f"--window-size={width},{height}",
                         f"--screenshot={out}", html.as_uri()], timeout)
    if not out.exists():
        raise AssertionError(f"chromium wrote no screenshot (rc={res.returncode}): {res.stderr[-800:]}")
    return out


def main(argv: list[str]) -> int:
    """Render the demo report and screenshot it to argv[0] (default docs/img/report.png)."""
    out = Path(argv[0] if argv else REPO / "docs" / "img" / "report.png").resolve()
    with tempfile.TemporaryDirectory(prefix="dw-demo-") as tmp:
        proc = run_demo(Path(tmp), "-q")
        run = latest_run(Path(tmp))
        if not (run / "report.html").exists():
            print(proc.stdout, file=sys.stderr)
            return 1
        out.parent.mkdir(parents=True, exist_ok=True)
        screenshot(run / "report.html", out, height=int(os.environ.get("SHOT_HEIGHT", "2400")))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Every real DM8 capture in tests/corpus/dm8 read by the harness's readers (issue 12, item 3).

Each `<slug>.txt` with a `<slug>.expect.json` is fed to the reader its kind names; every field the
sidecar gives is asserted (fields that are the tool's own words, such as a success line, must appear
verbatim in the capture). A sidecar of an unknown kind fails, so nothing is silently skipped."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness import show, toolout

CORPUS = Path(__file__).parent / "dm8"
CAPTURES = sorted(p for p in CORPUS.glob("*/*.txt") if p.with_suffix(".expect.json").exists())
VERBATIM = {"success_line", "refusal", "confirm_prompt", "confirm_answer", "ready_line", "fatal", "banner",
            "last_line", "message", "user"}


def capture(path: Path) -> tuple[dict[str, str], str]:
    """The `#@ key: value` header and the verbatim output after `#@ ---`."""
    head, _, body = path.read_text(encoding="utf-8").partition("#@ ---\n")
    meta = dict(re.findall(r"^#@ (\w+): (.*)$", head, re.M))
    return meta, body


def same(got: object, want: object) -> bool:
    """A reader's cell text against the sidecar's value (ints and floats given as numbers)."""
    if isinstance(want, bool) or want is None or isinstance(want, (list, dict)):
        return got == want
    if isinstance(want, (int, float)):
        try:
            return float(str(got)) == float(want)
        except ValueError:
            return False
    return str(got) == want


def check_row(got: dict[str, str], want: dict[str, Any], where: str) -> None:
    for k, v in want.items():
        assert same(got.get(k.upper(), ""), v), f"{where}.{k}: read {got.get(k.upper())!r}, capture shows {v!r}"


def check_verbatim(text: str, want: dict[str, Any]) -> None:
    for k in VERBATIM & set(want):
        if want[k] is not None:
            assert str(want[k]) in text, f"{k} {want[k]!r} is not in the capture"


def check_show(text: str, want: dict[str, Any]) -> None:
    st = show.parse_show(text)
    for k in ("group", "oguid", "mon_confirm", "mode", "mpp_flag"):
        if k in want:
            assert same(st.info.get(k.upper(), ""), want[k]), f"{k}: read {st.info.get(k.upper())!r}"
    dbs = want.get("databases", {})
    assert set(st.databases) == {n.upper() for n in dbs}
    for name, exp in dbs.items():
        db = st.db(name)
        check_row(db.row, {k: v for k, v in exp.items() if k != "ep"}, name)
        if "ep" in exp:
            assert len(db.ep) == len(exp["ep"]), f"{name}: {len(db.ep)} EP rows read"
            for i, (got, ep) in enumerate(zip(db.ep, exp["ep"], strict=True)):
                check_row(got, ep, f"{name}.ep[{i}]")


def check_messages(text: str, want: dict[str, Any]) -> None:
    blocks = show.message_blocks(text)
    if "from" in want:
        assert [b.source for b in blocks] == want["from"]
    for i, (b, exp) in enumerate(zip(blocks, want.get("blocks", []), strict=False)):
        assert b.source == exp.get("from", b.source) and b.time == exp.get("time", b.time)
        if "transition" in exp:
            assert list(b.transition or ()) == exp["transition"], f"block {i}: {b.transition}"
        check_row(b.row, exp.get("row", {}), f"block {i}")
    if "blocks" in want:
        assert len(blocks) == len(want["blocks"])
    if "startup" in want:
        assert want["startup"]["version"] in text
        assert bool(re.search(r"IS READY", text)) == want["startup"]["ready"]
    if "monitor_connect_info" in want:
        rows = show.connect_info(text)
        assert len(rows) == len(want["monitor_connect_info"])
        for got, exp in zip(rows, want["monitor_connect_info"], strict=True):
            check_row(got, exp, "connect info")


def action_ok(text: str, target: str) -> bool | None:
    """What the harness decides from a capture of a managing command: False on an explicit error or
    refusal, True when a `show` in it reports the target PRIMARY OPEN, None when it cannot tell."""
    if show.refused(text) is not None:
        return False
    db = show.parse_show(text).databases.get(target.upper())
    return True if db is not None and db.imode == "PRIMARY" and db.istatus == "OPEN" else None


def check_action(text: str, want: dict[str, Any]) -> None:
    assert want["command"] in text
    assert want["command"].split()[-1].split(".")[-1] == want["target"]
    assert show.error_code(text) == want.get("error_code")
    got = action_ok(text, want["target"])
    if want.get("ok") is False:
        assert got is False, "the harness must see this refusal"
    else:  # success is decided from state: a capture without a `show` after the command cannot say more
        assert got is not False, show.refused(text)
        if want.get("ok") and show.RULE.search(text):
            assert got is True, show.parse_show(text).summary()


def check_tool_run(text: str, want: dict[str, Any]) -> None:
    err = toolout.dm_error(text)
    assert (err.code if err else None) == want.get("error_code")
    if want.get("ok") is not None:
        fatal = re.search(r"\[FATAL\]", text) is not None
        assert (err is None and not fatal) == want["ok"]


def check_grid(text: str, want: dict[str, Any]) -> None:
    found = toolout.grids(text)
    g = next((g for g in found if g.columns == want["columns"]), found[0])
    assert g.columns == want["columns"]
    assert g.rows == want["rows"]
    for k in ("elapsed_ms", "exec_id", "wrapped"):
        if k in want:
            assert getattr(g, k) == want[k], k


def check_disql_login(text: str, want: dict[str, Any]) -> None:
    got = toolout.disql_login(text)
    assert got.ok == want["ok"]
    for k in ("server", "status", "login_time_ms"):
        if k in want:
            assert getattr(got, k) == want[k], k


def check_disql_error(text: str, want: dict[str, Any]) -> None:
    err = toolout.dm_error(text)
    assert err is not None and err.code == want["code"]
    if "line" in want:
        assert err.line == want["line"]


def check_choose(text: str, want: dict[str, Any]) -> None:
    names = list(want["candidates"]) + show.message_sources(text)
    assert show.choose_candidates(text, names) == want["candidates"]


READERS = {
    "show": check_show, "messages": check_messages, "action": check_action, "tool_run": check_tool_run,
    "grid": check_grid, "disql_login": check_disql_login, "disql_error": check_disql_error,
    "choose": check_choose,
    "login": lambda text, want: (show.refused(text) is None) == want["ok"] or pytest.fail("login ok"),
    "tip": lambda text, want: (show.tip_words(text) is not False) == want["ok"] or pytest.fail("tip ok"),
}


def check(text: str, want: dict[str, Any]) -> None:
    kind = want.get("kind")
    if kind == "session":
        for part in want["parts"]:
            check(text, part)
        return
    assert kind in READERS, f"unknown kind {kind!r}: add a reader check"
    check_verbatim(text, want)
    READERS[kind](text, want)


def test_the_corpus_is_there() -> None:
    assert len(CAPTURES) >= 15, CAPTURES


@pytest.mark.parametrize("path", CAPTURES, ids=[f"{p.parent.name}/{p.stem}" for p in CAPTURES])
def test_capture(path: Path) -> None:
    meta, text = capture(path)
    assert meta.get("source") and meta.get("tool") == path.parent.name
    check(text, json.loads(path.with_suffix(".expect.json").read_text(encoding="utf-8")))

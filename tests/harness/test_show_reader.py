"""The `show` reader by header positions (issue 12, item 2): blank cells, interleaved `[monitor]` lines,
unknown extra columns, collapsed whitespace, message blocks inside the grid."""

from __future__ import annotations

from harness.monitor import parse_show
from tests.harness.fake_monitor import HEAD, show_text

HEALTHY = {"mema1": ("OPEN", "OPEN", "PRIMARY", "VALID"), "mema2": ("OPEN", "OPEN", "STANDBY", "VALID")}


def test_a_blank_wtime_cell_does_not_shift_later_columns() -> None:
    """A watcher never heard from has no WTIME: the row has a gap where the date would be."""
    text = show_text(HEALTHY).replace("2026-12-05 00:00:00  GLOBAL    VALID     OPEN           mema2",
                                      "                     GLOBAL    VALID     ERROR          mema2")
    st = parse_show(text)
    m2 = st.db("mema2")
    assert m2.wtime == "" and m2.wstatus == "ERROR" and m2.raw["WTYPE"] == "GLOBAL"
    assert (m2.istatus, m2.imode, m2.rstat) == ("OPEN", "STANDBY", "VALID")


def test_monitor_step_lines_after_the_grid_are_not_databases() -> None:
    """Step lines printed right under the last row (no blank line between) are not rows."""
    head, tail = show_text(HEALTHY).rsplit("REALTIME  VALID\n\n", 1)
    steps = ("[monitor]         2026-12-05 00:00:01: xyzzy mema2 step 1 2 3 4 5 6 7 8 9\n"
             "[monitor]         2026-12-05 00:00:01: Notify dmwatcher(mema2) switch to OPEN status\n")
    st = parse_show(f"{head}REALTIME  VALID\n{steps}{tail}")
    assert set(st.databases) == {"MEMA1", "MEMA2"}


def test_a_message_block_interleaved_inside_the_grid_is_skipped() -> None:
    block = ("[monitor]         2026-12-05 00:00:01: Received message from(mema2)\n"
             "    WTIME                WSTATUS        INST_OK   INAME            ISTATUS     IMODE     RSTAT\n"
             "    2026-12-05 00:00:01  RECOVERY       OK        mema9            OPEN        STANDBY   INVALID\n")
    text = show_text(HEALTHY).replace("<<DATABASE GLOBAL INFO:>>", block + "<<DATABASE GLOBAL INFO:>>", 2)
    st = parse_show(text)
    assert set(st.databases) == {"MEMA1", "MEMA2"} and st.healthy(["mema1", "mema2"])


def test_an_unknown_extra_column_keeps_the_table() -> None:
    """A newer build adding a column (here NEW_FLAG between INAME and INST_OK) must still parse."""
    text = show_text(HEALTHY).replace(HEAD, HEAD.replace("INAME            ", "INAME            NEW_FLAG  "))
    text = text.replace("mema1            OK", "mema1            Y         OK").replace(
        "mema2            OK", "mema2            Y         OK")
    st = parse_show(text)
    assert st.healthy(["mema1", "mema2"]), st.summary()
    assert st.db("mema1").raw["NEW_FLAG"] == "Y" and st.db("mema1").inst_ok == "OK"


def test_collapsed_whitespace_falls_back_to_token_order() -> None:
    text = "\n".join(" ".join(line.split()) for line in show_text(HEALTHY).splitlines())
    st = parse_show(text)
    assert st.healthy(["mema1", "mema2"]) and st.db("mema2").wtime == "2026-12-05 00:00:00"
    assert (st.group, st.oguid) == ("GRP1", 453331)


def test_trailing_spaces_and_blank_lines_are_ignored() -> None:
    text = "\n".join(line + "   " for line in show_text(HEALTHY).splitlines()) + "\n\n\n"
    st = parse_show(text)
    assert st.healthy(["mema1", "mema2"]) and st.db("mema1").rstat == "VALID"


def test_a_message_block_with_an_unknown_header_wording_is_skipped_and_read() -> None:
    """Only the English header is confirmed by a real capture: a block under any other `[monitor]` wording
    is still recognised by the grid directly under it."""
    from harness.show import choose_candidates, message_sources

    block = ("[monitor]         2026-12-05 00:00:01: xyzzy mema1 plugh\n"
             "                  WTIME                WSTATUS        INST_OK   INAME            ISTATUS\n"
             "                  2026-12-05 00:00:01  ERROR          OK        mema1            OPEN\n")
    text = show_text(HEALTHY).replace("<<DATABASE GLOBAL INFO:>>", block + "<<DATABASE GLOBAL INFO:>>", 1)
    assert parse_show(text).db("mema1").wstatus == "OPEN"
    assert message_sources(block) == ["mema1"]
    assert choose_candidates(f"choose takeover GRP1\n{block}\nmema2\n", ["mema1", "mema2"]) == ["mema2"]


_EP_REAL = ("INST_IP             INST_PORT  INST_OK   INAME            ISTATUS     IMODE     DSC_SEQNO  DSC_CTL_NODE "
            "RTYPE     RSTAT    FSEQ            FLSN            CSEQ            CLSN            DW_STAT_FLAG          ")
_EP_OLD = ("INST_IP             INST_PORT  INST_OK   INAME            ISTATUS     IMODE     DSC_SEQNO  DSC_CTRL    "
           "N_OPEN      FLSN            CLSN")


def _with_ep(head: str, row: str) -> str:
    """HEALTHY's `show` with one EP INFO grid (header, mema2's row) under mema2's GLOBAL INFO row."""
    text = show_text(HEALTHY)
    cut = text.index("\n", text.index("mema2")) + 1
    return f"{text[:cut]}\nEP INFO:\n{head}\n{row}\n{text[cut:]}"


def test_the_real_ep_info_layout_is_read_without_n_open() -> None:
    """Real DM8 (captures in tests/corpus/dm8/dmmonitor/show-*) prints FSEQ/CSEQ and no N_OPEN."""
    row = ("10.0.0.2            5236       OK        mema2            OPEN        STANDBY   0          0            "
           "REALTIME  VALID    4823            39382           4824            39390           NONE                  ")
    st = parse_show(_with_ep(_EP_REAL, row))
    m2 = st.db("mema2")
    assert (m2.flsn, m2.clsn, m2.n_open) == (39382, 39390, None)
    assert m2.ep[0]["FSEQ"] == "4823" and m2.ep[0]["DW_STAT_FLAG"] == "NONE"
    assert st.healthy(["mema1", "mema2"]), st.summary()


def test_the_older_emulator_ep_info_layout_still_reads_n_open() -> None:
    row = ("10.0.0.2            5236       OK        mema2            OPEN        STANDBY   0          ACTIVE      "
           "7           39382           39390")
    m2 = parse_show(_with_ep(_EP_OLD, row)).db("mema2")
    assert (m2.n_open, m2.flsn, m2.clsn, m2.imode) == (7, 39382, 39390, "STANDBY")


def test_the_real_not_logged_in_refusal_is_recognised_without_a_code() -> None:
    """tests/corpus/dm8/dmmonitor/switchover-not-logged-in-cn-dmshell-c7.txt prints no `code = -5`."""
    from pathlib import Path

    from harness.show import NOT_LOGGED_IN, error_code, refused

    capture = Path(__file__).parents[1] / "corpus/dm8/dmmonitor/switchover-not-logged-in-cn-dmshell-c7.txt"
    answer = capture.read_text(encoding="utf-8").split("#@ ---\n", 1)[1]
    assert NOT_LOGGED_IN.search(answer) and error_code(answer) is None
    assert refused(answer) is not None
    assert NOT_LOGGED_IN.search("[monitor]         2026-12-05 00:00:01: Please login the monitor first\n")

"""The `show` parser and the monitor message parser on DM8's layouts (reference sections 4.1, 4.3, 7.2)."""

from __future__ import annotations

from harness.monitor import parse_messages, parse_show

RULE = "#" + "=" * 80 + "#"

# Reference 4.3 (B3): the verbatim header and GLOBAL INFO row, the (≈) EP INFO block, for a 1P+1S group.
SHOW_EN = f"""show
2023-07-23 10:03:33
{RULE}
GROUP            OGUID       MON_CONFIRM     MODE            MPP_FLAG
GRP1             453331      TRUE            MANUAL          FALSE

<<DATABASE GLOBAL INFO:>>
DW_IP               MAL_DW_PORT  WTIME                WTYPE     WCTLSTAT  WSTATUS        INAME            INST_OK   N_EP  N_OK  ISTATUS     IMODE     DSC_STATUS     RTYPE     RSTAT
192.168.56.201      5239         2023-07-23 10:03:33  GLOBAL    VALID     OPEN           mema1            OK        1     1     OPEN        PRIMARY   DSC_OPEN       REALTIME  VALID

EP INFO:
INST_IP             INST_PORT  INST_OK   INAME            ISTATUS     IMODE     DSC_SEQNO  DSC_CTRL    N_OPEN      FLSN            CLSN
192.168.0.201       5236       OK        mema1            OPEN        PRIMARY   0          ACTIVE      7           45393           45393

<<DATABASE GLOBAL INFO:>>
DW_IP               MAL_DW_PORT  WTIME                WTYPE     WCTLSTAT  WSTATUS        INAME            INST_OK   N_EP  N_OK  ISTATUS     IMODE     DSC_STATUS     RTYPE     RSTAT
192.168.56.202      5239         2023-07-23 10:03:32  GLOBAL    VALID     OPEN           mema2            OK        1     1     OPEN        STANDBY   DSC_OPEN       REALTIME  VALID

EP INFO:
INST_IP             INST_PORT  INST_OK   INAME            ISTATUS     IMODE     DSC_SEQNO  DSC_CTRL    N_OPEN      FLSN            CLSN
192.168.0.202       5236       OK        mema2            OPEN        STANDBY   0          ACTIVE      7           45393           45393

{RULE}
"""

# A Chinese build prints the same grid; around it come the monitor's own Chinese messages (reference 4.1),
# here a watcher message that arrived while `show` was being printed, and a standby in RECOVERY/INVALID.
SHOW_CN = f"""show
[monitor]         2022-07-26 09:36:45: 收到守护进程(mema2)消息
    WTIME                WSTATUS        INST_OK   INAME            ISTATUS     IMODE     RSTAT    N_OPEN   FLSN            CLSN
    2022-07-26 09:36:45  RECOVERY       OK        mema2            OPEN        STANDBY   INVALID  16       424686          424686

2022-07-26 09:36:46
{RULE}
GROUP            OGUID       MON_CONFIRM     MODE            MPP_FLAG
GRP1             453331      TRUE            MANUAL          FALSE

<<DATABASE GLOBAL INFO:>>
DW_IP               MAL_DW_PORT  WTIME                WTYPE     WCTLSTAT  WSTATUS        INAME            INST_OK   N_EP  N_OK  ISTATUS     IMODE     DSC_STATUS     RTYPE     RSTAT
192.168.56.201      5239         2022-07-26 09:36:46  GLOBAL    VALID     OPEN           mema1            OK        1     1     OPEN        PRIMARY   DSC_OPEN       REALTIME  INVALID

EP INFO:
INST_IP             INST_PORT  INST_OK   INAME            ISTATUS     IMODE     DSC_SEQNO  DSC_CTRL    N_OPEN      FLSN            CLSN
192.168.0.201       5236       OK        mema1            OPEN        PRIMARY   0          ACTIVE      16          424687          424688

<<DATABASE GLOBAL INFO:>>
DW_IP               MAL_DW_PORT  WTIME                WTYPE     WCTLSTAT  WSTATUS        INAME            INST_OK   N_EP  N_OK  ISTATUS     IMODE     DSC_STATUS     RTYPE     RSTAT
192.168.56.202      5239         2022-07-26 09:36:45  GLOBAL    VALID     RECOVERY       mema2            OK        1     1     OPEN        STANDBY   DSC_OPEN       REALTIME  INVALID

EP INFO:
INST_IP             INST_PORT  INST_OK   INAME            ISTATUS     IMODE     DSC_SEQNO  DSC_CTRL    N_OPEN      FLSN            CLSN
192.168.0.202       5236       OK        mema2            OPEN        STANDBY   0          ACTIVE      16          424686          424686

{RULE}
"""

# Reference 4.1 (B2): the monitor's start-up messages, Chinese; 7.2 (B1): English timeout message.
MESSAGES_CN = """[monitor]         2022-07-26 09:36:45: DMMONITOR[4.0] V8
[monitor]         2022-07-26 09:36:45: DMMONITOR[4.0] IS READY.

[monitor]         2022-07-26 09:36:45: 收到守护进程(SLNNGK)消息
    WTIME                WSTATUS        INST_OK   INAME            ISTATUS     IMODE     RSTAT    N_OPEN   FLSN            CLSN
    2022-07-26 09:36:45  OPEN           OK        SLNNGK           OPEN        PRIMARY   VALID    16       424687          424688

[monitor]         2022-07-26 09:36:45: 收到守护进程(SLNNGKBAK)消息
    2022-07-26 09:36:45  OPEN           OK        SLNNGKBAK        OPEN        STANDBY   VALID    16       424686          424686
"""
MESSAGES_EN = """[monitor]         2022-07-26 09:40:01: Received message timeout from(GRP1_PR)
    WTIME                WSTATUS        INST_OK   INAME            ISTATUS     IMODE     RSTAT    N_OPEN   FLSN            CLSN
    2022-07-26 09:39:50  ERROR          OK        GRP1_PR          OPEN        PRIMARY   VALID    7        45393           45393
"""


def test_show_english_healthy_group() -> None:
    st = parse_show(SHOW_EN)
    assert (st.group, st.oguid, st.mon_confirm, st.mode) == ("GRP1", 453331, "TRUE", "MANUAL")
    assert st.time == "2023-07-23 10:03:33"
    assert set(st.databases) == {"MEMA1", "MEMA2"}
    m1, m2 = st.db("mema1"), st.db("MEMA2")
    assert (m1.wstatus, m1.istatus, m1.imode, m1.rstat) == ("OPEN", "OPEN", "PRIMARY", "VALID")
    assert (m2.wstatus, m2.istatus, m2.imode, m2.rstat) == ("OPEN", "OPEN", "STANDBY", "VALID")
    assert (m1.n_open, m1.flsn, m1.clsn, m1.mal_dw_port) == (7, 45393, 45393, 5239)
    assert m1.wtime == "2023-07-23 10:03:33" and m1.dw_ip == "192.168.56.201"
    assert m1.raw["INST_IP"] == "192.168.0.201" and m1.raw["DSC_CTRL"] == "ACTIVE"
    assert st.healthy(["mema1", "mema2"]) and st.primary is m1


def test_show_chinese_recovering_standby_is_not_healthy() -> None:
    st = parse_show(SHOW_CN)
    assert st.time == "2022-07-26 09:36:46"
    m2 = st.db("mema2")
    assert (m2.wstatus, m2.rstat, m2.n_open, m2.clsn) == ("RECOVERY", "INVALID", 16, 424686)
    assert st.db("mema1").clsn == 424688
    assert not st.healthy()
    assert st.summary()["MEMA2"] == ("RECOVERY", "OPEN", "STANDBY", "INVALID")


def test_show_health_rules() -> None:
    assert not parse_show(SHOW_EN.replace("STANDBY", "PRIMARY")).healthy()  # two primaries
    assert not parse_show(SHOW_EN).healthy(["mema1", "mema3"])  # a missing instance
    error = SHOW_EN.replace("OPEN           mema2", "ERROR          mema2")
    assert parse_show(error).db("mema2").wstatus == "ERROR" and not parse_show(error).healthy()
    assert not parse_show("show\nno group\n").healthy()


def test_split_ctl_state_is_parsed() -> None:
    st = parse_show(SHOW_EN.replace("VALID     OPEN           mema2", "SPLIT     OPEN           mema2"))
    assert st.db("mema2").wctlstat == "SPLIT"


def test_messages_chinese_and_english() -> None:
    cn = parse_messages(MESSAGES_CN)
    assert [(m.iname, m.wstatus, m.imode, m.n_open, m.clsn) for m in cn] == [
        ("SLNNGK", "OPEN", "PRIMARY", 16, 424688), ("SLNNGKBAK", "OPEN", "STANDBY", 16, 424686)]
    en = parse_messages(MESSAGES_EN)
    assert [(m.iname, m.wstatus, m.inst_ok, m.wtime) for m in en] == [
        ("GRP1_PR", "ERROR", "OK", "2022-07-26 09:39:50")]


def test_show_ignores_messages_outside_the_rules() -> None:
    st = parse_show(SHOW_CN)
    assert st.db("mema2").wtime == "2022-07-26 09:36:45"  # from the grid, not the message above it
    assert len(parse_messages(SHOW_CN)) == 1


def test_choose_answer_skips_an_interleaved_timeout_block() -> None:
    """`choose takeover` right after the primary went silent: the monitor's asynchronous timeout message
    and its table block (naming the failed primary) arrive in the middle of the answer (reference 7.2)."""
    from harness.monitor import Monitor
    from harness.topology import Topology

    m = Monitor.__new__(Monitor)
    m.t = Topology()
    out = ("choose takeover GRP1\n"
           "[monitor]         2026-11-25 00:01:02: 接收守护进程(mema1)消息超时\n"
           "DW_IP               MAL_DW_PORT  WTIME                WTYPE     WCTLSTAT  WSTATUS        INAME\n"
           "192.168.56.201      5239         2026-11-25 00:00:57  GLOBAL    VALID     ERROR          mema1\n"
           "\n"
           "mema2\n")
    assert m._names_in(out, "choose takeover GRP1") == ["mema2"]
    assert m._names_in("choose takeover GRP1\nmema2\nGRP1.mema1\n", "choose takeover GRP1") == ["mema1", "mema2"]

"""What the monitor prints about the group: `show` tables, list, tip, candidates."""

from __future__ import annotations

from ... import lang
from .model import (
    DWMON_SYS_NOT_OK,
    EP_COLS,
    GLOBAL_COLS,
    GROUP_COLS,
    ROW_COLS,
    ROW_HDR,
    ROW_INDENT,
    CmdError,
    WatcherView,
    grid,
    ts,
)


class Render:
    """Console renderings (mixin of Monitor); `show`'s layout is confirmed by real captures."""

    def _row(self, v: WatcherView) -> str:
        m = v.msg or {}
        i = v.inst()
        vals = (ts(m.get("wtime")), v.wstatus(), m.get("inst_ok", "ERROR"), v.name, i.get("status", "UNKNOWN"),
                i.get("mode", "UNKNOWN"), self.rstat(v), i.get("n_open", 0), i.get("flsn", 0), i.get("clsn", 0))
        return ROW_INDENT + "".join(f"{x:<{w}}" for x, (_, w) in zip(vals, ROW_COLS, strict=True))

    def _row_block(self, v: WatcherView, header: bool) -> str:
        return (ROW_HDR + "\n" if header else "") + self._row(v) + "\n\n"

    def render_show(self, gname: str | None, only: str | None = None) -> str:
        """`show` as real DM8 prints it (captures in tests/corpus/dm8/dmmonitor/show-*): per database a
        GLOBAL INFO grid, its EP INFO grid and, for a standby, where it applies redo from."""
        out = [ts() + " ", "#" + "=" * 80 + "#"]
        groups = [self.group(gname)] if gname else self.cfg.groups
        for g in groups:
            vs = self.gviews(g)
            mode = next((v.msg.get("dw_mode") for v in vs if v.msg), "UNKNOWN")
            out.append(grid(GROUP_COLS))
            out.append(grid(GROUP_COLS, (g.name, g.oguid, "TRUE" if self.cfg.confirm else "FALSE", mode, "FALSE")))
            out += ["", ""]
            for v in vs:
                if only == "global":
                    out += ["<<DATABASE GLOBAL INFO:>>", grid(GLOBAL_COLS), self._global_row(v), ""]
                elif only is None or self._only_db in (None, v):
                    out.extend(self._db_block(v, titled=only == "database"))
        out.append("#" + "=" * 80 + "#")
        return "\n".join(out) + "\n"

    _only_db: WatcherView | None = None

    def _rtype(self, v: WatcherView) -> str:
        """REALTIME for a primary with a real-time archive and for every real-time standby; ASYNC for an
        asynchronous standby (no capture shows one: unverified)."""
        i = v.inst()
        if i.get("mode") == "STANDBY":
            return "ASYNC" if self.is_async(v) else "REALTIME"
        return "REALTIME" if any(a["type"] == "REALTIME" for a in i.get("arch", [])) else "NONE"

    def _global_row(self, v: WatcherView) -> str:
        m = v.msg or {}
        i = v.inst()
        n_ok = 1 if m.get("inst_ok") == "OK" and v.fresh() else 0
        return grid(GLOBAL_COLS, (v.host, v.port, ts(m.get("wtime")) if m else "", m.get("wtype", "UNKNOWN"),
                                  m.get("wctlstat", "UNKNOWN"), v.wstatus(), v.name, m.get("inst_ok", "ERROR"), 1,
                                  n_ok, i.get("status", "UNKNOWN"), i.get("mode", "UNKNOWN"), "DSC_OPEN", self._rtype(v),
                                  self.rstat(v)))

    def _db_block(self, v: WatcherView, titled: bool = False) -> list[str]:
        """One database's part of `show`; FSEQ/CSEQ are the emulator's LSNs (it numbers redo by LSN only)."""
        m = v.msg or {}
        i = v.inst()
        flsn, clsn = i.get("flsn", 0), i.get("clsn", 0)
        out = [f"<<DATABASE({v.name}) INFO:>>" if titled else "<<DATABASE GLOBAL INFO:>>", grid(GLOBAL_COLS),
               self._global_row(v), "", "EP INFO:", grid(EP_COLS),
               grid(EP_COLS, (m.get("inst_host", ""), m.get("inst_port", ""), m.get("inst_ok", "ERROR"), v.name,
                              i.get("status", "UNKNOWN"), i.get("mode", "UNKNOWN"), 0, 0, self._rtype(v), self.rstat(v),
                              flsn, flsn, clsn, clsn, "NONE")), ""]
        p = self.primary(v.group, fresh_only=False)
        if i.get("mode") == "STANDBY":
            klsn = max(clsn, int(i.get("keep_lsn") or 0))
            out += [f"DATABASE({v.name}) APPLY INFO FROM ({p.name if p else ''}), REDOS_PARALLEL_NUM (1), "
                    f"WAIT_APPLY[FALSE]:",
                    f"DSC_SEQNO[0], (RSEQ, SSEQ, KSEQ)[{clsn}, {clsn}, {klsn}], (RLSN, SLSN, KLSN)[{clsn}, {clsn}, "
                    f"{klsn}], N_TSK[0], TSK_MEM_USE[0] ",
                    f"REDO_LSN_ARR: ({clsn})", "", ""]
        if m.get("wctlstat") == "SPLIT" and m.get("split_by"):
            e = m["split_by"]
            out += [lang.msg("m_split_info", name=v.name, by=e.get("db_name"), kind=e.get("kind")), ""]
        return out

    def _print_cands(self, cands: list[WatcherView]) -> None:
        if not cands:
            self.say("m_no_cand")
            return
        head = lang.msg("m_cands_head")
        if head:
            self.write(f"{head}\n")
        for v in cands:
            self.write(lang.msg("m_cand", name=v.name) + "\n")

    def _tip(self) -> None:
        problems = []
        for g in self.cfg.groups:
            vs = self.gviews(g)
            prim = [v for v in vs if v.fresh() and v.inst().get("mode") == "PRIMARY"
                    and v.inst().get("status") in ("OPEN", "SUSPEND")]
            for v in vs:
                if not v.msg:
                    problems.append(lang.msg("m_tip_nolink", name=f"{v.host}:{v.port}"))
                elif not v.fresh():
                    problems.append(lang.msg("m_tip_timeout", name=v.name))
                elif v.msg.get("wctlstat") == "SPLIT":
                    e = v.msg.get("split_by") or {}
                    problems.append(lang.msg("m_tip_split", name=v.name, by=e.get("db_name")))
                elif v.msg.get("inst_ok") != "OK":
                    problems.append(lang.msg("m_tip_inst", name=v.name))
                elif v.wstatus() != "OPEN" or v.inst().get("status") != "OPEN":
                    problems.append(lang.msg("m_tip_state", name=v.name, w=v.wstatus(), i=v.inst().get("status")))
                elif v.inst().get("mode") == "STANDBY" and self.rstat(v) != "VALID":
                    problems.append(lang.msg("m_tip_arch", name=v.name, r=self.rstat(v)))
            if len(prim) > 1:
                problems.append(lang.msg("m_tip_two_primary", names=", ".join(v.name for v in prim)))
            elif not prim:
                problems.append(lang.msg("m_tip_no_primary", group=g.name))
        if not problems:
            self.say("m_tip_ok")
            return
        self.say("m_tip_bad")
        for p in problems:
            self.write(f"    {p}\n")
        raise CmdError(DWMON_SYS_NOT_OK, lang.msg("m_tip_code"))

    def _list(self, spec: str | None) -> None:
        if spec:
            targets = [self.db(spec)[1]]
        else:
            targets = [v for v in self.views if v.msg]
        keys = ("DW_TYPE", "DW_MODE", "DW_ERROR_TIME", "INST_RECOVER_TIME", "INST_ERROR_TIME", "INST_OGUID",
                "INST_INI", "INST_AUTO_RESTART", "INST_STARTUP_CMD", "RLOG_SEND_THRESHOLD", "RLOG_APPLY_THRESHOLD")
        for v in targets:
            m = v.msg
            cfg = dict(m.get("config") or {})
            cfg["INST_AUTO_RESTART"] = str(m.get("auto_restart"))
            cfg["INST_RECOVER_TIME"] = str(m.get("inst_recover_time"))
            self.write(f"\n[{v.group.name}.{v.name}]  ({v.host}:{v.port})\n")
            for k in keys:
                self.write(f"    {k:<24}= {cfg.get(k, '')}\n")
        self.write("\n")

    def _show_arch_send(self, spec: str | None) -> None:
        g, v = self.db(spec, default_filter=lambda v: v.inst().get("mode") == "PRIMARY")
        i = v.inst()
        self.write(f"{'INST_NAME':<17}{'ARCH_DEST':<17}{'ARCH_TYPE':<11}{'STATUS':<9}{'MAX_SEND_LSN':<16}"
                   f"{'LAST_SEND_LSN':<16}{'SEND_NUM':<10}{'SEND_BYTES':<14}{'LAST_CODE':<11}LAST_SEND_DESC\n")
        for a in i.get("arch", []):
            if a["type"] not in ("REALTIME", "TIMELY"):
                continue
            s = (i.get("send") or {}).get(a["dest"].upper(), {})
            self.write(f"{v.name:<17}{a['dest']:<17}{a['type']:<11}{a['status']:<9}{s.get('max_send_lsn', 0):<16}"
                       f"{s.get('last_send_lsn', 0):<16}{s.get('n_send', 0):<10}{s.get('bytes', 0):<14}"
                       f"{s.get('last_code', 0):<11}{s.get('last_desc', '')}\n")

    def _show_open_info(self, spec: str | None) -> None:
        g, v = self.db(spec)
        self.write(f"{'NTH':<5}{'TGUID':<13}{'TIME':<21}{'KIND':<12}{'SYS_MODE':<10}{'DB_NAME':<17}"
                   f"{'PARENT':<17}DB_MAGIC\n")
        for n, e in enumerate(v.msg.get("history") or []):
            self.write(f"{n:<5}{e['tguid']:<13}{ts(e['time']):<21}{e['kind']:<12}{e['sys_mode']:<10}"
                       f"{e['db_name']:<17}{e.get('parent') or '':<17}{e.get('db_magic', 0)}\n")

    def _show_monitor(self) -> None:
        self.write(f"{'MON_ID':<14}{'CONFIRM':<9}{'GROUP':<10}DW\n")
        for v in self.views:
            self.write(f"{self.id:<14}{'TRUE' if self.cfg.confirm else 'FALSE':<9}{v.group.name:<10}"
                       f"{v.name}({v.host}:{v.port}) monitors={(v.msg or {}).get('n_monitors', 0)}\n")

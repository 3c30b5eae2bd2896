"""Readers of dmmonitor's text output: the `show` grid, watcher message blocks, `choose` answers, `tip`
and explicit DM errors. No pexpect here (the session is harness.monitor); replay and tests call these.

`show` (reference 4.3) prints header lines of column names followed by rows, inside `#====#` rules.
Columns are located from the header line's character positions, so a blank cell (WTIME of a watcher
never heard from) stays blank instead of shifting later columns; when a capture's whitespace was
collapsed (single spaces), values are taken in order. A line is a header when most of its words are known
column names, so a build adding a column still parses. The monitor prints `[monitor] ...` step lines and
asynchronous watcher message blocks (a `[monitor]` line naming a watcher in parentheses, then a small
grid, up to the next blank line) wherever they happen; both are skipped by every reader here.
"""

from __future__ import annotations

import dataclasses
import re

RULE = re.compile(r"^#=+#\s*$", re.M)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}:\d{2}(\.\d+)?$")
_STAMP = re.compile(r"^\s*(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\s*$")
HEADER_WORDS = frozenset({
    "GROUP", "OGUID", "MON_CONFIRM", "MODE", "MPP_FLAG", "DW_IP", "MAL_DW_PORT", "WTIME", "WTYPE", "WCTLSTAT",
    "WSTATUS", "INAME", "INST_OK", "N_EP", "N_OK", "ISTATUS", "IMODE", "DSC_STATUS", "RTYPE", "RSTAT", "INST_IP",
    "INST_PORT", "DSC_SEQNO", "DSC_CTRL", "N_OPEN", "FLSN", "CLSN", "MAL_HOST", "MAL_PORT", "WIP", "WPORT",
    "DSC_CTL_NODE", "FSEQ", "CSEQ", "DW_STAT_FLAG"})
# A line that starts an asynchronous message block: the monitor's `[monitor]` prefix (or an indented
# continuation) naming a watcher in parentheses, or either known header wording without the prefix.
MSG_HEAD = re.compile(r"^\s*\[monitor\][^\n]*?\((?P<name>[A-Za-z_][\w$#]*)\)"
                      r"|收到守护进程\((?P<cn>[^)]+)\)消息|Received message (?:timeout )?from\((?P<en>[^)]+)\)")
STEP_LINE = re.compile(r"^\s*\[monitor\]")
PROGRESS = re.compile(r"\[[A-Z_ ]+-->[A-Z_ ]+\]")
# Explicit DM errors: an error code in either form DM prints, or DM's documented refusal wording.
ERROR_CODE = re.compile(r"code\s*[=:]\s*(-\d+)|\[(-\d+)\]|error\[(-\d+)\]", re.I)
REFUSAL = re.compile(r"请先登录|未登录监视器|请重新登录|please login|not log(ged )?in|不满足|does not qualify"
                     r"|无效的(命令|组名|实例名)|invalid (command|group|instance)|失败|\bfail(ed)?\b", re.I)
NOT_LOGGED_IN = re.compile(r"请先登录|未登录监视器|请重新登录|please login|not log(ged )?in|code\s*=\s*-5\b", re.I)


@dataclasses.dataclass
class DbState:
    """One database as `show` reports it (GLOBAL INFO row, plus its EP INFO row when present)."""

    iname: str
    wstatus: str = ""
    wctlstat: str = ""
    inst_ok: str = ""
    istatus: str = ""
    imode: str = ""
    rtype: str = ""
    rstat: str = ""
    n_open: int | None = None
    flsn: int | None = None
    clsn: int | None = None
    dw_ip: str = ""
    mal_dw_port: int | None = None
    wtime: str = ""
    raw: dict[str, str] = dataclasses.field(default_factory=dict)
    row: dict[str, str] = dataclasses.field(default_factory=dict)  # the GLOBAL INFO row alone
    ep: list[dict[str, str]] = dataclasses.field(default_factory=list)  # its EP INFO rows


@dataclasses.dataclass
class ShowState:
    """Parsed `show` output: the group header and every database by instance name (upper case)."""

    time: str = ""
    group: str = ""
    oguid: int | None = None
    mon_confirm: str = ""
    mode: str = ""
    databases: dict[str, DbState] = dataclasses.field(default_factory=dict)
    text: str = ""
    info: dict[str, str] = dataclasses.field(default_factory=dict)  # the GROUP row by column

    def db(self, name: str) -> DbState:
        """The database with this instance name (case-insensitive); KeyError when absent."""
        return self.databases[name.upper()]

    @property
    def primary(self) -> DbState | None:
        """The one OPEN PRIMARY, if exactly one exists."""
        p = [d for d in self.databases.values() if d.imode == "PRIMARY" and d.istatus == "OPEN"]
        return p[0] if len(p) == 1 else None

    def healthy(self, instances: list[str] | None = None) -> bool:
        """Seed 十一.2's acceptance: every watcher and instance OPEN, one PRIMARY, standbys' RSTAT VALID."""
        dbs = list(self.databases.values())
        if instances is not None and {i.upper() for i in instances} != set(self.databases):
            return False
        if not dbs:
            return False
        modes = [d.imode for d in dbs]
        return (all(d.wstatus == "OPEN" and d.istatus == "OPEN" and d.inst_ok in ("OK", "") for d in dbs)
                and modes.count("PRIMARY") == 1
                and all(d.rstat == "VALID" for d in dbs if d.imode == "STANDBY"))

    def summary(self) -> dict[str, tuple[str, str, str, str]]:
        """{INAME: (WSTATUS, ISTATUS, IMODE, RSTAT)} for messages."""
        return {n: (d.wstatus, d.istatus, d.imode, d.rstat) for n, d in self.databases.items()}


# ---- grid mechanics --------------------------------------------------------------------------------
@dataclasses.dataclass
class Header:
    """A header line: column names and the character position each starts at."""

    names: list[str]
    starts: list[int]
    collapsed: bool


def header_of(line: str, *, any_names: bool = False) -> Header | None:
    """The header this line is, when at least 3 words and most of them are known column names (with
    any_names: any upper-case names, for a grid the caller knows is one)."""
    spans = [(m.group(), m.start()) for m in re.finditer(r"\S+", line)]
    if len(spans) < 3 or not any_names and sum(w in HEADER_WORDS for w, _ in spans) * 3 < len(spans) * 2:
        return None
    if not all(re.fullmatch(r"[A-Z][A-Z0-9_$]*", w) for w, _ in spans):
        return None
    gaps = [b - (a + len(w)) for (w, a), (_, b) in zip(spans, spans[1:], strict=False)]
    return Header([w for w, _ in spans], [s for _, s in spans], collapsed=max(gaps) <= 1)


def _cells(line: str) -> list[tuple[str, int]]:
    """A row's values with their start positions; `date time` is one value."""
    out: list[tuple[str, int]] = []
    for m in re.finditer(r"\S+", line):
        if out and _TIME.match(m.group()) and _DATE.match(out[-1][0]) and m.start() == out[-1][1] + 11:
            out[-1] = (f"{out[-1][0]} {m.group()}", out[-1][1])
        else:
            out.append((m.group(), m.start()))
    return out


def row_values(h: Header, line: str) -> dict[str, str]:
    """Map a row onto the header's columns: in order when every column has a value (or whitespace was
    collapsed), else by position (a value belongs to the last column starting at or before it)."""
    cells = _cells(line)
    if len(cells) == len(h.names) or h.collapsed:
        return {c: v for c, (v, _) in zip(h.names, cells, strict=False)}
    vals = {c: "" for c in h.names}
    col = 0
    for v, pos in cells:
        at = max((i for i, s in enumerate(h.starts) if s <= pos + 1), default=0)
        if col and (at < col or col >= len(h.names)):  # a value with spaces (UNIFY EP, DMMONITOR[4.0] V8)
            vals[h.names[col - 1]] = f"{vals[h.names[col - 1]]} {v}".strip()
            continue
        col = at
        vals[h.names[col]] = v
        col += 1
    return vals


def _int(v: str | None) -> int | None:
    try:
        return int(v) if v else None
    except ValueError:
        return None


def _block_head(lines: list[str], i: int) -> str | None:
    """The watcher a message block starting at line i is from ("" when its wording names none), or None
    when line i starts no block. A head is a `[monitor]` line naming a watcher in parentheses, or either
    known header wording, or any `[monitor]` line directly followed by a grid header (unknown wording)."""
    m = MSG_HEAD.search(lines[i])
    nxt = header_of(lines[i + 1]) if i + 1 < len(lines) else None
    if m is not None:
        return m.group("name") or m.group("cn") or m.group("en")
    if STEP_LINE.match(lines[i]) and nxt is not None and nxt.names[0] != "GROUP":
        return ""
    return None


def message_block_lines(text: str, *, steps: bool = True) -> list[bool]:
    """For each line: is it part of an asynchronous message block or a `[monitor]` step line? A block runs
    from its head line (_block_head) over the header and rows under it; any other line ends it."""
    lines = text.splitlines()
    flags: list[bool] = []
    inside = False
    for i, line in enumerate(lines):
        if STEP_LINE.match(line) or MSG_HEAD.search(line):
            inside = _block_head(lines, i) is not None
            flags.append(steps)
            continue
        if inside and not (header_of(line) is not None or _looks_like_row(line)):
            inside = False
        flags.append(inside)
    return flags


def strip_async(text: str, *, keep_steps: bool = False) -> str:
    """The text without `[monitor]` step lines (unless keep_steps) and the grids of message blocks."""
    flags = message_block_lines(text, steps=not keep_steps)
    return "\n".join(line for line, skip in zip(text.splitlines(), flags, strict=True) if not skip)


# ---- readers -----------------------------------------------------------------------------------------
def parse_show(text: str) -> ShowState:
    """Parse the output of `show` (Chinese or English build); message blocks and step lines are skipped
    wherever they are, and only the part between the first and last `#====#` rule is read when present."""
    rules = [m.start() for m in RULE.finditer(text)]
    body = text[rules[0]:rules[-1]] if len(rules) >= 2 else text
    state = ShowState(text=body)
    stamps = [m.group(1) for line in strip_async(text[:rules[0]] if rules else "").splitlines()
              if (m := _STAMP.match(line))]
    if stamps:
        state.time = stamps[-1]
    head: Header | None = None
    for line, skip in zip(body.splitlines(), message_block_lines(body), strict=True):
        if skip:
            continue
        if not line.strip():
            head = None
            continue
        h = header_of(line)
        if h is not None:
            head = h
            continue
        first = line.split()[0]
        if head is None or first.startswith(("<<", "#")) or first.endswith(":"):
            head = None
            continue
        _apply_row(state, head, row_values(head, line.rstrip()))
    return state


def _apply_row(state: ShowState, head: Header, vals: dict[str, str]) -> None:
    if head.names[0] == "GROUP":
        state.group = vals.get("GROUP", "")
        state.oguid = _int(vals.get("OGUID"))
        state.mon_confirm = vals.get("MON_CONFIRM", "")
        state.mode = vals.get("MODE", "")
        state.info = vals
        return
    name = vals.get("INAME")
    if not name:
        return
    db = state.databases.setdefault(name.upper(), DbState(iname=name))
    db.raw.update(vals)
    if "WSTATUS" not in vals:
        db.ep.append(vals)
    else:
        db.row = vals
    _fill(db, vals, ep_row="WSTATUS" not in vals)


def _fill(db: DbState, vals: dict[str, str], ep_row: bool = False) -> None:
    for col, attr in (("WSTATUS", "wstatus"), ("WCTLSTAT", "wctlstat"), ("INST_OK", "inst_ok"),
                      ("ISTATUS", "istatus"), ("IMODE", "imode"), ("RTYPE", "rtype"), ("RSTAT", "rstat"),
                      ("DW_IP", "dw_ip"), ("WTIME", "wtime")):
        if col in vals and not (col == "INST_OK" and ep_row and db.inst_ok):
            setattr(db, attr, vals[col].upper() if attr not in ("dw_ip", "wtime") else vals[col])
    for col, attr in (("N_OPEN", "n_open"), ("FLSN", "flsn"), ("CLSN", "clsn"), ("MAL_DW_PORT", "mal_dw_port")):
        if col in vals:
            setattr(db, attr, _int(vals[col]))


MESSAGE_COLUMNS = Header(["WTIME", "WSTATUS", "INST_OK", "INAME", "ISTATUS", "IMODE", "RSTAT", "N_OPEN", "FLSN",
                          "CLSN"], [4, 25, 40, 50, 67, 79, 89, 98, 107, 123], collapsed=False)


@dataclasses.dataclass
class MessageBlock:
    """One asynchronous message block: the watcher it is from, the monitor's time stamp, the status
    change it announces (`[A-->B]`, when it does) and its row."""

    source: str
    time: str = ""
    transition: tuple[str, str] | None = None
    row: dict[str, str] = dataclasses.field(default_factory=dict)


_HEAD_TIME = re.compile(r"\[monitor\]\s*(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})")
_TRANSITION = re.compile(r"\[([A-Z_ ]+?)\s*-->\s*([A-Z_ ]+?)\]")


def message_blocks(text: str) -> list[MessageBlock]:
    """The asynchronous message blocks: a head line (_block_head) directly followed by the block's grid (a
    header and/or a row); the watcher is the one the head names, else the row's INAME. Step lines naming
    a watcher but carrying no grid are not blocks."""
    lines = text.splitlines()
    out: list[MessageBlock] = []
    for i, line in enumerate(lines):
        source = _block_head(lines, i)
        if source is None or i + 1 >= len(lines):
            continue
        head = header_of(lines[i + 1])
        if head is None and not _looks_like_row(lines[i + 1]):
            continue
        block = MessageBlock(source)
        if (t := _HEAD_TIME.search(line)) is not None:
            block.time = t.group(1)
        if (tr := _TRANSITION.search(line)) is not None:
            block.transition = (tr.group(1), tr.group(2))
        for row in lines[i + 1 + (head is not None):]:
            if not _looks_like_row(row):
                break
            vals = row_values(head or MESSAGE_COLUMNS, row.rstrip())
            if vals.get("INAME"):
                block.row = vals
                block.source = block.source or vals["INAME"]
                break
        out.append(block)
    return out


def message_sources(text: str) -> list[str]:
    """The watcher names of the asynchronous message blocks, in order."""
    return [b.source for b in message_blocks(text)]


def parse_messages(text: str) -> list[DbState]:
    """The rows of the watcher message blocks the monitor prints by itself (one per watcher report)."""
    out = []
    for b in message_blocks(text):
        if b.row:
            db = DbState(iname=b.row["INAME"], raw=b.row)
            _fill(db, b.row)
            out.append(db)
    return out


def connect_info(text: str) -> list[dict[str, str]]:
    """The rows of the monitor's `GET MONITOR CONNECT INFO FROM DMWATCHER(X)` grid (start-up, show monitor)."""
    lines = text.splitlines()
    out: list[dict[str, str]] = []
    for i, line in enumerate(lines):
        if "CONNECT INFO" not in line.upper():
            continue
        rest = [x for x in lines[i + 1:i + 4] if x.strip()]
        head = header_of(rest[0], any_names=True) if rest else None
        if head is None:
            continue
        start = lines.index(rest[0], i + 1)
        for row in lines[start + 1:]:
            if row.lstrip().startswith(("#", "[")):
                break
            if row.strip():
                out.append(row_values(head, row.rstrip()))
    return out


def error_code(text: str) -> int | None:
    """The first explicit DM error code in a command's answer (message grids skipped), or None."""
    m = ERROR_CODE.search(strip_async(text, keep_steps=True))
    return int(next(g for g in m.groups() if g)) if m else None


def refused(text: str) -> str | None:
    """The line of a command's answer (step lines included, message grids not) that is an explicit DM
    error or refusal, or None."""
    for line in strip_async(text, keep_steps=True).splitlines():
        if ERROR_CODE.search(line) or REFUSAL.search(line):
            return line.strip()
    return None


def choose_candidates(text: str, names: list[str], command: str = "") -> list[str]:
    """Known instance names a `choose` answer lists, on any line of its own answer (the echoed command,
    step lines, message blocks and grid rows are not candidates). An answer naming none means none."""
    body = text.split(command, 1)[-1] if command and command in text else text
    lines = [line for line in strip_async(body).splitlines()
             if header_of(line) is None and not _looks_like_row(line)]
    joined = "\n".join(lines)
    return [n for n in names if re.search(rf"(?<![\w(]){re.escape(n)}(?![\w)])", joined, re.I)]


def _looks_like_row(line: str) -> bool:
    """A grid row (an address or a date first, several values) rather than an answer line."""
    cells = line.split()
    return len(cells) >= 3 and bool(re.match(r"\d", cells[0]))


def tip_words(text: str) -> bool | None:
    """What `tip`'s answer says by itself: False on an explicit DM error code (DWMON_SYS_NOT_OK is -11),
    None otherwise: the caller decides "normal" from state (no capture confirms either wording)."""
    return False if ERROR_CODE.search(strip_async(text, keep_steps=True)) else None


def progress_lines(text: str) -> list[str]:
    """Step lines and `[A-->B]` status changes: evidence of a command's progress, never required."""
    return [line.strip() for line in text.splitlines() if STEP_LINE.match(line) or PROGRESS.search(line)]

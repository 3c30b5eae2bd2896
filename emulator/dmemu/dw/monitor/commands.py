"""dmmonitor's command table: each console command as (words, arguments allowed, needs login, handler).

A line matches the first entry whose words (a `|` lists alternatives) are its leading words and whose
argument count fits; order matters where one command's words start another's (`choose takeover force`
before `choose takeover`, `show global info` before `show [group]`). A handler gets the monitor, the
words after the matched ones and the whole line's words, and returns False to end the monitor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ... import lang
from ..messages import HELP_CN, HELP_EN
from . import monlist
from .model import DWMON_INVALID_ARG, CmdError

if TYPE_CHECKING:
    from .session import Monitor

ANY = 99
Handler = Callable[["Monitor", list[str], list[str]], "bool | None"]


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]          # lower-case leading words; "a|b" accepts either
    max_args: int                   # words allowed after them
    login: bool                     # refused with -5 until `login` succeeded
    handler: Handler

    def matches(self, low: list[str]) -> bool:
        n = len(self.words)
        return (len(low) >= n and len(low) - n <= self.max_args
                and all(w in alts.split("|") for w, alts in zip(low, self.words, strict=False)))


def _arg(args: list[str]) -> str | None:
    return args[0] if args else None


def _standby(v) -> bool:
    return v.inst().get("mode") == "STANDBY"


def _show_database(m: Monitor, args: list[str], _w: list[str]) -> None:
    g, v = m.db(_arg(args))
    m._only_db = v
    try:
        m.write(m.render_show(g.name, only="database"))
    finally:
        m._only_db = None


def _logout(m: Monitor, _a: list[str], _w: list[str]) -> None:
    m.logged_in = False
    m.say("m_logout_ok")


def _takeover_time(m: Monitor, args: list[str], _w: list[str]) -> None:
    g = m.group(_arg(args))
    m.write(lang.msg("m_takeover_time", group=g.name, secs=m._takeover_countdown(g)) + "\n")


def _choose(kind: str) -> Handler:
    def run(m: Monitor, args: list[str], _w: list[str]) -> None:
        g = m.group(_arg(args))
        if kind == "takeover force":
            m._print_cands(m.takeover_candidates(g, force=True))
            return
        m.refresh(m.gviews(g), timeout=1.0)
        m._print_cands(m.switchover_candidates(g) if kind == "switchover" else m.takeover_candidates(g, force=False))
    return run


def _switch(kind: str) -> Handler:
    def run(m: Monitor, args: list[str], _w: list[str]) -> None:
        g, v = m.db(_arg(args), default_filter=_standby)
        if not m.confirm(kind, g, v):
            return
        if kind == "SWITCHOVER":
            m.do_switchover(g, v)
        else:
            m.do_takeover(g, v, force=kind == "TAKEOVER FORCE")
    return run


def _on_db(method: str, default_filter=None) -> Handler:
    def run(m: Monitor, args: list[str], _w: list[str]) -> None:
        g, v = m.db(_arg(args), default_filter=default_filter)
        getattr(m, method)(g, v)
    return run


def _group_cmd(m: Monitor, args: list[str], w: list[str]) -> None:
    getattr(m, f"_{w[0].lower()}_group")(m.group(_arg(args)))


def _database_cmd(m: Monitor, args: list[str], w: list[str]) -> None:
    m._one_db(w[0].lower(), m.db(_arg(args))[1])


def _dmwatcher_cmd(m: Monitor, args: list[str], w: list[str]) -> None:
    for v in m.gviews(m.group(_arg(args))):
        m.req(v, {"op": "watch", "on": w[0].lower() == "startup"})
    m.say("m_cmd_ok", cmd=" ".join(w))


TABLE: tuple[Command, ...] = (
    Command(("exit|quit",), 0, False, lambda m, a, w: False),
    Command(("exit", "all"), 0, False, lambda m, a, w: False),
    Command(("help",), 0, False, lambda m, a, w: m.write(HELP_EN if lang.is_en() else HELP_CN)),
    Command(("show", "version"), 0, False, lambda m, a, w: m.write("DMMONITOR[4.0] V8\n")),
    Command(("show", "global", "info"), ANY, False,
            lambda m, a, w: m.write(m.render_show(_arg(a), only="global"))),
    Command(("show", "arch", "send", "info"), ANY, False, lambda m, a, w: m._show_arch_send(_arg(a))),
    Command(("show", "open", "info"), ANY, False, lambda m, a, w: m._show_open_info(_arg(a))),
    Command(("show", "monitor"), ANY, False, lambda m, a, w: monlist.show_monitor(m, _arg(a))),
    Command(("show", "database"), ANY, False, _show_database),
    Command(("show",), 1, False, lambda m, a, w: m.write(m.render_show(_arg(a)))),
    Command(("list",), ANY, False, lambda m, a, w: m._list(_arg(a))),
    Command(("tip",), 0, False, lambda m, a, w: m._tip()),
    Command(("login",), ANY, False, lambda m, a, w: m._login()),
    Command(("logout",), 0, True, _logout),
    Command(("get", "takeover", "time"), ANY, False, _takeover_time),
    Command(("choose", "takeover", "force"), ANY, True, _choose("takeover force")),
    Command(("choose", "switchover"), ANY, True, _choose("switchover")),
    Command(("choose", "takeover"), ANY, True, _choose("takeover")),
    Command(("switchover",), 1, True, _switch("SWITCHOVER")),
    Command(("takeover", "force"), 1, True, _switch("TAKEOVER FORCE")),
    Command(("takeover",), 1, True, _switch("TAKEOVER")),
    Command(("open", "database|force"), 1, True, _on_db("_open_force")),
    Command(("check", "open"), 1, True, _on_db("_check_open")),
    Command(("check", "recover"), 1, True, _on_db("_check_recover", _standby)),
    Command(("stop|startup|kill", "group"), 1, True, _group_cmd),
    Command(("stop|startup|kill", "database"), 1, True, _database_cmd),
    Command(("stop|startup", "dmwatcher"), 1, True, _dmwatcher_cmd),
    Command(("detach", "database"), 1, True, lambda m, a, w: m._detach(m.db(_arg(a), default_filter=_standby)[1])),
    Command(("attach", "database"), 1, True, lambda m, a, w: m._attach(m.db(_arg(a))[1])),
    Command(("set", "group|database"), ANY, True, lambda m, a, w: m._set(w, [x.lower() for x in w])),
)


def dispatch(m: Monitor, words: list[str]) -> bool:
    """Run the command `words` on monitor `m`; False means exit (CmdError for an unknown command)."""
    low = [w.lower() for w in words]
    for c in TABLE:
        if c.matches(low):
            if c.login:
                m.need_login()
            return c.handler(m, words[len(c.words):], words) is not False
    raise CmdError(DWMON_INVALID_ARG, lang.msg("m_bad_cmd", cmd=" ".join(words)))

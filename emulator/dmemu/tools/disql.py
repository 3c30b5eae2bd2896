"""disql: DM8's interactive SQL client (login forms, banners, result grid, set options, host, conn, scripts).

Login forms: `disql`, `disql sysdba`, `disql SYSDBA/pwd`, `disql SYSDBA/pwd@host:port`,
`disql SYSDBA/"p@ss"@svc` (a dm_svc.conf service name, DM_SVC_PATH or /etc), `disql /NOLOG`,
`disql ... \\`/path/script.sql`, `-S` (silent), `-E|-e "statements"`. It speaks the DM wire protocol
through the emulator's wire client (dmemu.wire.client). Messages in Chinese, English with LANGUAGE=en.
"""

from __future__ import annotations

import getpass
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field

from .. import ini as dmini
from ..lang import is_en
from .disqlgrid import _width_hint, render_grid
from .disqlinput import StatementBuffer, split_statements

DEFAULT_SERVER = "LOCALHOST:5236"
_ERR = re.compile(r"\[?CODE:\s*(-?\d+)\]?\s*(.*)", re.S)
_BRACKET = re.compile(r"^\[(-?\d+)\]:?\s*(.*)", re.S)

BANNER_CN = {("NORMAL", "OPEN"): "普通打开状态", ("PRIMARY", "OPEN"): "主库打开状态",
             ("STANDBY", "OPEN"): "备库打开状态", ("NORMAL", "MOUNT"): "普通配置状态",
             ("PRIMARY", "MOUNT"): "主库配置状态", ("STANDBY", "MOUNT"): "备库配置状态",
             ("NORMAL", "SUSPEND"): "普通挂起状态", ("PRIMARY", "SUSPEND"): "主库挂起状态",
             ("STANDBY", "SUSPEND"): "备库挂起状态"}
_LOGIN_RANK = {0: ("PRIMARY", "NORMAL", "STANDBY"), 1: ("PRIMARY",), 2: ("STANDBY",),
               3: ("STANDBY", "PRIMARY", "NORMAL"), 4: ("NORMAL", "PRIMARY", "STANDBY")}


class ClientError(Exception):
    """A DM error as the client library reported it (code, message)."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _as_client_error(e: Exception) -> ClientError:
    text = str(e.args[0]) if e.args else str(e)
    m = _ERR.search(text) or _BRACKET.match(text.strip())
    if m:
        return ClientError(int(m.group(1)), m.group(2).strip().rstrip("."))
    code = getattr(e, "code", None)
    return ClientError(int(code) if isinstance(code, int) else -70028, text.strip().rstrip("."))


def dial(host: str, port: int, user: str, password: str):
    """Open a connection with autocommit off through the emulator's own wire client."""
    from ..wire.client import DmError, connect
    try:
        return connect(host, port, user, password, autocommit=False)
    except DmError as e:
        raise (_no_socket() if e.code == -70028 else ClientError(e.code, e.message.strip().rstrip("."))) from None


def _no_socket() -> ClientError:
    """-70028 as real disql words it (corpus disql/login-fail-70028-cn-dameng-faq)."""
    return ClientError(-70028, "Create SOCKET connection failure" if is_en() else "创建SOCKET连接失败")


@dataclass
class Settings:
    heading: bool = True
    feedback: bool = True
    timing: bool = True
    lineshow: bool = True
    echo: bool = True
    autocommit: bool = False
    pagesize: int = 14
    linesize: int = 150
    colsep: str = " "
    extra: dict = field(default_factory=dict)


@dataclass
class Target:
    user: str | None
    password: str | None
    endpoints: list[tuple[str, int]]
    login_mode: int = 0
    switch_times: int = 1
    switch_interval: float = 0.2
    label: str = ""


def parse_login(spec: str) -> tuple[str | None, str | None, str | None]:
    """'user/pwd@target' -> (user, password, target); the password may be "quoted"."""
    spec = re.sub(r"\s+AS\s+\w+$", "", spec.strip(), flags=re.I)
    user, pwd, target = spec, None, None
    m = re.match(r"^([^/@]*)(/?)(.*)$", spec, re.S)
    user, slash, rest = m.group(1), m.group(2), m.group(3)
    if slash:
        if rest.startswith('"'):
            end = rest.find('"', 1)
            pwd, rest = rest[1:end if end > 0 else None], (rest[end + 1:] if end > 0 else "")
            target = rest[1:] if rest.startswith("@") else None
        else:
            pwd, _, target = rest.rpartition("@") if "@" in rest else (rest, "", None)
            if pwd == "" and "@" in rest:
                pwd = rest.split("@", 1)[0]
            target = target or None
    elif rest.startswith("@"):
        target = rest[1:]
    return (user or None), pwd, target


def resolve(target: str | None) -> Target:
    """host:port, host, or a dm_svc.conf service name -> endpoints (+ LOGIN_MODE/SWITCH_* from the file)."""
    t = target or os.environ.get("DMEMU_DEFAULT_SERVER") or DEFAULT_SERVER
    m = re.match(r"^\[?([^\]]+?)\]?:(\d+)$", t)
    if m:
        return Target(None, None, [(m.group(1), int(m.group(2)))], label=t)
    path = dmini.svc_conf_path()
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            svcs = dmini.parse_svc(f.read())
        svc = svcs.get(t.upper())
        if svc:
            o = svc.options
            eps = [(h, p or 5236) for h, p in svc.endpoints]
            return Target(None, None, eps, int(o.get("LOGIN_MODE", "0") or 0),
                          max(1, int(o.get("SWITCH_TIME", o.get("SWITCH_TIMES", "3")) or 3)),
                          int(o.get("SWITCH_INTERVAL", "200") or 200) / 1000.0, label=t)
    return Target(None, None, [(t, 5236)], label=t)


class Disql:
    """One disql session: a connection, settings and a statement counter."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.st = Settings()
        self.conn = None
        self.exec_id = 500
        self.server = ""
        self.silent = False

    # -- output ---------------------------------------------------------------------------
    def p(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _timing(self, t0: float) -> None:
        self.exec_id += 1
        if self.st.timing:
            ms = (time.perf_counter() - t0) * 1000
            self.p(f"used time: {ms:.3f}(ms). Execute id is {self.exec_id}." if is_en()
                   else f"已用时间: {ms:.3f}(毫秒). 执行号:{self.exec_id}.")

    def error(self, e: ClientError, line: int = 1) -> None:
        msg = e.message.rstrip(".")
        self.p(f"line {line}, has error[{e.code}]:{msg}." if is_en() else f"第{line} 行附近出现错误[{e.code}]:{msg}.")

    # -- login -----------------------------------------------------------------------------
    def login(self, spec: str, prompt_in=None) -> bool:
        user, pwd, target = parse_login(spec)
        if not user:
            user = self._ask("username:" if is_en() else "用户名:", prompt_in, secret=False)
        if pwd is None:
            pwd = self._ask("password:" if is_en() else "密码:", prompt_in, secret=True)
        try:
            tgt = resolve(target)
        except (OSError, ValueError) as e:
            self.error(ClientError(-70028, str(e)))
            return False
        t0 = time.perf_counter()
        try:
            conn, ep, mode, status = self._pick(tgt, user, pwd)
        except ClientError as e:
            self.p(f"[{e.code}]:{e.message}.")
            return False
        self.close()
        self.conn, self.server = conn, f"{ep[0].upper() if ep[0].lower() == 'localhost' else ep[0]}:{ep[1]}"
        self.st.autocommit = False
        if not self.silent:
            ms = (time.perf_counter() - t0) * 1000
            if is_en():
                self.p(f"Server[{self.server}]:mode is {mode.lower()}, state is {status.lower()}")
                self.p(f"login used time : {ms:.3f}(ms)")
            else:
                self.p(f"服务器[{self.server}]:处于{BANNER_CN.get((mode, status), status)}")
                self.p(f"登录使用时间 : {ms:.3f}(ms)")
        return True

    def _ask(self, prompt: str, prompt_in, secret: bool) -> str:
        src = prompt_in or sys.stdin
        if secret and src is sys.stdin and sys.stdin.isatty():
            return getpass.getpass(prompt)
        self.out.write(prompt)
        self.out.flush()
        return (src.readline() or "").rstrip("\n")

    def _pick(self, tgt: Target, user: str, pwd: str):
        """Connect to the endpoints, ranked by LOGIN_MODE; returns (conn, endpoint, mode, status)."""
        rank = _LOGIN_RANK.get(tgt.login_mode, _LOGIN_RANK[0])
        last: ClientError | None = None
        for attempt in range(tgt.switch_times):
            found = []
            for ep in tgt.endpoints:
                try:
                    conn = dial(ep[0], ep[1], user, pwd)
                except ClientError as e:
                    if e.code == -2501:
                        raise
                    last = e
                    continue
                mode, status = self._state(conn)
                found.append((conn, ep, mode, status))
                if len(tgt.endpoints) == 1:
                    return found[0]
            best = None
            for want_open in (True, False):
                for m in rank:
                    for f in found:
                        if f[2] == m and (f[3] == "OPEN") == want_open and best is None:
                            best = f
                if best:
                    break
                if tgt.login_mode in (1, 2):
                    break
            for f in found:
                if f is not best:
                    f[0].close()
            if best:
                return best
            if attempt + 1 < tgt.switch_times:
                time.sleep(tgt.switch_interval)
        raise last or _no_socket()

    @staticmethod
    def _state(conn) -> tuple[str, str]:
        try:
            cur = conn.cursor()
            cur.execute("select MODE$, STATUS$ from v$instance")
            row = cur.fetchone()
            cur.close()
            return str(row[0]).upper(), str(row[1]).upper()
        except Exception:                      # noqa: BLE001 - a server without v$instance: assume normal
            return "NORMAL", "OPEN"

    def close(self, commit: bool = True) -> None:
        if self.conn is not None:
            try:
                if commit:
                    self.conn.commit()
            except Exception:                  # noqa: BLE001
                pass
            try:
                self.conn.close()
            except Exception:                  # noqa: BLE001
                pass
            self.conn = None

    # -- commands ----------------------------------------------------------------------------
    def command(self, text: str) -> bool | int:
        """Run a disql command or SQL statement. Returns False to continue, or an int exit code."""
        stripped = text.strip()
        body = stripped.rstrip(";").strip() if not re.match(r"(?is)^(begin|declare|create\s+(or\s+replace\s+)?"
                                                             r"(procedure|function|trigger|package))", stripped) else stripped
        low = body.lower()
        word = low.split(None, 1)[0] if low else ""
        if not body:
            return False
        if word in ("exit", "quit"):
            parts = body.split()
            code = int(parts[1]) if len(parts) > 1 and parts[1].lstrip("-").isdigit() else 0
            self.close(commit=not (len(parts) > 1 and parts[-1].lower() == "rollback"))
            return code
        if word in ("conn", "connect", "login"):
            self.login(body.split(None, 1)[1] if " " in body else "")
            return False
        if word in ("disconn", "disconnect", "logout"):
            self.close()
            return False
        if word == "host" or body.startswith("!"):
            cmd = body[1:] if body.startswith("!") else body[4:]
            r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
            if r.stdout:
                self.out.write(r.stdout)
            if r.stderr:
                self.out.write(r.stderr)
            self.out.flush()
            return False
        if word == "set":
            self.set(body[3:].strip())
            return False
        if word == "show":
            self.show(body[4:].strip())
            return False
        if word in ("start", "@") or body.startswith("`") or body.startswith("@"):
            path = body[1:] if body[0] in "`@" else body.split(None, 1)[1]
            return self.run_script(path.strip().strip("'\""))
        return self.sql(stripped)

    def set(self, args: str) -> None:
        parts = args.split()
        while parts:
            key = parts.pop(0).lower()
            val = parts.pop(0) if parts else ""
            onoff = val.lower() in ("on", "1", "true")
            if key in ("heading", "feedback", "timing", "lineshow", "echo", "autocommit"):
                if val.lower() not in ("on", "off", "1", "0", "true", "false") and not (key == "feedback"
                                                                                        and val.isdigit()):
                    self.p(f"invalid value {val} for {key}" if is_en() else f"无效的设置值[{val}]")
                    return
                setattr(self.st, key, onoff or (key == "feedback" and val.isdigit() and int(val) > 0))
                if key == "autocommit" and self.conn is not None:
                    self._set_autocommit(onoff)
            elif key in ("pagesize", "linesize", "pages", "lines"):
                if not val.isdigit():
                    self.p(f"invalid value {val} for {key}" if is_en() else f"无效的设置值[{val}]")
                    return
                setattr(self.st, "pagesize" if key.startswith("page") else "linesize", int(val))
            elif key == "colsep":
                self.st.colsep = val.strip("'\"") if val else " "
            elif key in ("long", "newpage", "trimspool", "define", "serveroutput", "verify", "term", "termout",
                         "time", "null", "numwidth", "charcode", "cursor", "autotrace", "characterset", "keepdata"):
                self.st.extra[key] = val
            else:
                self.p(f"unknown set option: {key}" if is_en() else f"未知的设置选项[{key}]")
                return

    def _set_autocommit(self, on: bool) -> None:
        for attr in ("autoCommit", "autocommit"):
            if hasattr(self.conn, attr):
                try:
                    setattr(self.conn, attr, on)
                    return
                except Exception:              # noqa: BLE001
                    continue

    def show(self, what: str) -> None:
        key = what.lower()
        if hasattr(self.st, key):
            v = getattr(self.st, key)
            self.p(f"{key.upper()} {('ON' if v else 'OFF') if isinstance(v, bool) else v}")
        else:
            self.p(f"unknown show option: {what}" if is_en() else f"未知的SHOW选项[{what}]")

    def sql(self, text: str) -> bool:
        if self.conn is None:
            self.p("[-70019]:没有连接到服务器." if not is_en() else "[-70019]:Not connected.")
            return False
        stmt = text.strip()
        if not re.match(r"(?is)^(begin|declare|create\s+(or\s+replace\s+)?(procedure|function|trigger|package))",
                        stmt):
            stmt = stmt.rstrip(";").rstrip()
        t0 = time.perf_counter()
        try:
            cur = self.conn.cursor()
            cur.execute(stmt)
            desc = cur.description
            rows = cur.fetchall() if desc else []
            rowcount = cur.rowcount
            if self.st.autocommit:
                self.conn.commit()
            cur.close()
        except Exception as e:                   # noqa: BLE001 - driver errors carry the DM code
            self.error(_as_client_error(e))
            return False
        first = stmt.split(None, 1)[0].lower() if stmt else ""
        if desc:
            self.p()
            for line in render_grid([d[0] for d in desc], [_width_hint(d) for d in desc], rows, self.st):
                self.p(line)
            self.p()
        elif first in ("insert", "update", "delete", "merge"):
            if self.st.feedback:
                self.p(f"affect rows {max(rowcount, 0)}" if is_en() else f"影响行数 {max(rowcount, 0)}")
                self.p()
        elif first in ("begin", "declare", "call", "exec", "execute") or first.startswith("sp_"):
            if self.st.feedback:
                self.p("DMSQL executed successfully" if is_en() else "DMSQL 过程已成功完成")
        elif self.st.feedback:
            self.p("executed successfully" if is_en() else "操作已执行")
        self._timing(t0)
        return False

    def run_script(self, path: str) -> bool | int:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            self.p(f"[-70050]:{e.strerror}: {path}")
            return False
        for stmt in split_statements(text.splitlines()):
            if self.st.echo:
                self.p(f"SQL> {stmt}")
            r = self.command(stmt)
            if r is not False:
                return r
        return False


def repl(d: Disql, inp=None) -> int:
    """Read statements from stdin (prompt `SQL> `, continuation lines numbered) until exit/EOF."""
    inp = inp or sys.stdin
    tty = inp.isatty()
    sb = StatementBuffer()
    while True:
        d.out.write("SQL> " if not sb.buf else f"{len(sb.buf) + 1:<4}")
        d.out.flush()
        line = inp.readline()
        if not line:
            rest = sb.rest()
            if rest:
                r = d.command(rest)
                if r is not False:
                    return int(r)
            d.p()
            d.close()
            return 0
        line = line.rstrip("\n")
        if not tty:
            d.out.write(line + "\n")
        for stmt in sb.feed(line):
            r = d.command(stmt)
            if r is not False:
                return int(r)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    d = Disql()
    login, script, stmts = None, None, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-S", "-s"):
            d.silent = True
        elif a in ("-E", "-e") and i + 1 < len(argv):
            stmts.append(argv[i + 1])
            i += 1
        elif a in ("-L", "-l", "-M", "-m"):
            pass
        elif a.startswith("`"):
            script = a[1:]
        elif a.lower() in ("-h", "--help", "-help", "help"):
            d.p("disql V8\n格式: disql [-S] [-E \"sql\"] [[user[/password]][@server]|/NOLOG] [`script]")
            return 0
        elif login is None:
            if "`" in a:
                a, script = a.split("`", 1)
            login = a
        else:
            d.p(f"invalid argument: {a}" if is_en() else f"无效的参数[{a}]")
            return 1
        i += 1
    asks = login is None or login.upper() != "/NOLOG" and not parse_login(login)[0]
    if asks and not d.silent:                       # real disql names itself before asking (corpus disql/login-*)
        d.p("disql V8")
    if (login is None or login.upper() != "/NOLOG") and not d.login(login or ""):
        return 1
    if not d.silent and not asks:
        d.p("disql V8")
    if stmts:
        rc: bool | int = False
        for s in stmts:
            for stmt in split_statements(s.splitlines()):
                rc = d.command(stmt)
                if rc is not False:
                    return int(rc)
        d.close()
        return 0
    if script:
        r = d.run_script(script)
        if r is not False:
            return int(r)
    return repl(d)


if __name__ == "__main__":
    sys.exit(main())

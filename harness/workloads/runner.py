"""Run a transactional workload: client processes, role pollers, a final read, the verdict.

Why: the suites drive bank / list-append / register / unique-ids the same way they drive today's insert
workload (`with wl.running() as history:`), and every verdict lands in the report. Clients are spawned
processes (harness.workloads.client): the parent collects their events into a History (JSONL under the
run folder, read back by `python -m harness.check`), records `info` for the open operation of a client
that died, starts a new one in its place, and kills any still running at the end. Role samples come from
harness.workload's poller, so the checkers know which instance was a writable primary when.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import wait as wait_pipes
from pathlib import Path
from typing import Any

from harness.checkers import Recorded, Result, declare, judge
from harness.checkers.terms import Terms, allow, forgive, writes  # noqa: F401 - allow: re-exported
from harness.history import History
from harness.wait import WaitTimeout, hold, wait_until
from harness.workload import JOIN_MARGIN, WRITE_LOGIN_TIMEOUT, Workload
from harness.workloads.client import ClientSpec, Tx, main

Measure = Callable[..., Any]  # (name, value, unit, note=...) -> records a figure for the running test

_CTX = multiprocessing.get_context("spawn")
_tables = itertools.count(1)
SETUP_SEEN_S = 5.0  # how long the pinned readers wait for every instance to show the setup
RESPAWNS = 20  # new processes a client slot may get after crashes before it is given up


class Slot:
    """One client position: its spec, the live process and its pipe, and the open operation."""

    def __init__(self, spec: ClientSpec) -> None:
        self.spec = spec
        self.proc: Any = None
        self.pipe: Any = None
        self.open: tuple[str, Any] | None = None
        self.respawns = 0


class Run:
    """What `running()` yields: the live History plus the check of the finished run."""

    def __init__(self, wl: TxnWorkload, history: History) -> None:
        self.wl, self.history = wl, history

    def __getattr__(self, name: str) -> Any:
        return getattr(self.history, name)

    def ok_count(self, since: float = 0.0) -> int:
        """Operations acknowledged (ok) after `since`, reads included."""
        return sum(1 for op in list(self.history.ops) if op.type == "ok" and op.time > since)

    def wait_acked(self, n: int = 10, timeout: float = 60.0) -> int:
        """Wait until `n` more operations are acknowledged from now (the clients are making progress); the
        same step as Workload.wait_acked, so runbook steps call it on any running workload."""
        t = time.monotonic()
        return wait_until(lambda: self.ok_count(t), timeout, f"{n} {self.wl.model.kind} operations acknowledged",
                          ok=lambda k: k >= n, interval=0.2)

    def writes_acked(self, since: float) -> int:
        """Write operations (not reads) acknowledged after `since` (monotonic)."""
        ro = self.wl.model.readonly
        return sum(1 for op in list(self.history.ops) if op.type == "ok" and op.time > since and not ro(op.f, op.value))

    def hold_no_writes(self, seconds: float, grace: float = 1.0) -> None:
        """Assert no write is acknowledged for `seconds`, starting `grace` seconds from now (commits already
        past the redo write when the fault began may still return): the commit path is hung."""
        time.sleep(grace)
        t = time.monotonic()
        hold(lambda: self.writes_acked(t) == 0, seconds, f"no {self.wl.model.kind} write acknowledged")

    def run_for(self, seconds: float) -> None:
        """Let the workload run `seconds` under whatever is going on (a fault's dwell time)."""
        time.sleep(seconds)

    def check(self, cut_off: dict[str, float] | None = None, *, report: bool = True) -> Result:
        """The verdict of the workload's checker (harness.checkers) over this run.

        cut_off {instance: time}: that instance was cut off from the group at `time` (isolated, then
        replaced by a takeover). Writes it acknowledged after that may be lost by design (seed 十二.2.3:
        a client can still reach a primary the group has left); they are judged as `info` (may or may not
        have happened) and counted in the stats as `acked_after_cut_off`; its reads after that show a lineage
        the group has left and are set aside the same way. Everything else stays strict."""
        hist = self.history
        terms = Terms(cut_off=dict(cut_off or {}), allowed=list(getattr(self.wl.model, "allowed", ())))
        terms.forgiven = forgive(hist, terms.cut_off) if cut_off else []
        view = terms.view(hist)
        rec = Recorded(str(hist.path or self.wl.model.kind), self.wl.model.kind, view, self.wl.model.params())
        terms.stats = dict(self.counts())
        if cut_off:
            terms.stats["acked_after_cut_off"] = writes(hist, terms.forgiven, self.wl.model.readonly)
        res = terms.judged(judge(rec, hist.faults))
        terms.summary = res.summary()
        if hist.path is not None:
            terms.save(hist.path)  # python -m harness.check RUN_DIR judges it the same way
        if report:
            self._report(res)
        return res

    def counts(self) -> dict[str, int]:
        """ok / fail / info completions and client crashes."""
        out = {t: 0 for t in ("ok", "fail", "info")}
        for op in list(self.history.ops):
            if op.type in out:
                out[op.type] += 1
        out["crashed_clients"] = self.wl.crashes
        return out

    def _report(self, res: Result) -> None:
        measure = self.wl.measure
        if measure is None:  # outside a test: nothing to attach to
            return
        kind = self.wl.model.kind
        measure(f"{kind} ops ok", res.stats["ok"], "ops",
                note=f"fail {res.stats['fail']}, info {res.stats['info']}, "
                     f"crashed clients {res.stats['crashed_clients']}")
        measure(f"{kind} anomalies", len(res.anomalies), "anomalies", note=res.summary()[:300])
        if "acked_after_cut_off" in res.stats:
            measure(f"{kind} writes acknowledged after the cut-off", res.stats["acked_after_cut_off"],
                    "ops", note="judged as info: may be lost by design after a takeover")


class TxnWorkload:
    """A model (bank, list-append, register, unique ids) run by client processes against the group."""

    def __init__(self, model: Any, sql: Any, topology: Any, run_dir: str | Path | None, seed: int, *,
                 writers: int = 3, readers: bool = True, chaos: Any = None, timeout: float | None = None,
                 connector: str = "dmPython:connect", targets: dict[str, dict[str, Any]] | None = None,
                 crash_after: int | None = None, measure: Measure | None = None) -> None:
        self.measure = measure  # report.measure of the running test, given by the plugin
        self.model, self.sql, self.topology, self.seed = model, sql, topology, int(seed)
        self.run_dir = Path(run_dir) if run_dir else None
        self.base = Workload(sql, topology, None, seed, table=getattr(model, "table", None),
                             statement_timeout=timeout)
        self.base.chaos = chaos
        self.writers, self.readers, self.connector = writers, readers, connector
        self.targets = targets  # connect arguments by instance ("" = service name) instead of dmPython's
        self.crash_after = crash_after  # test hook: the first writer aborts after this many operations
        self._names = {i.upper(): i for i in self.base.instances}  # the server's spelling -> the topology's
        self.crashes = 0
        self.slots: list[Slot] = []
        self.history: History | None = None
        self._stop: Any = None

    # ---- what the group is (runbook.leave_group edits `instances`) ---------------------------------
    @property
    def instances(self) -> list[str]:
        return self.base.instances

    @instances.setter
    def instances(self, names: list[str]) -> None:
        self.base.instances = names

    @property
    def chaos(self) -> Any:
        return self.base.chaos

    @chaos.setter
    def chaos(self, value: Any) -> None:
        self.base.chaos = value

    def _connect_kwargs(self, target: str | None) -> dict[str, Any]:
        """dmPython.connect arguments for the seed's service name (None) or one instance, as harness.sql."""
        if self.targets is not None:
            return dict(self.targets.get(target or "", {}))
        from harness.sql import dpi_login_timeout

        args: dict[str, Any] = {"user": self.sql.user, "password": self.sql.password, "autoCommit": False,
                                "login_timeout": dpi_login_timeout(WRITE_LOGIN_TIMEOUT)}
        if target is None:
            args.update(server=self.topology.svc.name, dmsvc_path=str(self.sql.svc_dir))
        else:
            ip, port = self.sql.address(target)
            args.update(server=ip, port=port)
        return args

    def specs(self) -> list[ClientSpec]:
        """Writers through the service name, and (with `readers`) one read-only client pinned to each
        instance, whatever its role: on the standby it is the standby read."""
        kind, timeout = self.model.kind, self.base.statement_timeout
        out = [ClientSpec(f"{kind}-w{i}", self.model, self.seed * 100 + i, self._connect_kwargs(None),
                          timeout=timeout, connector=self.connector, extra={"number": i + 1},
                          crash_after=self.crash_after if i == 0 else None)
               for i in range(self.writers)]
        if self.readers and getattr(self.model, "pinned_readers", False):
            out += [ClientSpec(f"{kind}-r-{inst}", self.model, self.seed * 100 + 50 + n, self._connect_kwargs(inst),
                               node=inst, reader=True, timeout=timeout, connector=self.connector,
                               extra={"number": 50 + n})
                    for n, inst in enumerate(self.instances)]
        return out

    # ---- client processes ------------------------------------------------------------------------
    def _spawn(self, slot: Slot) -> None:
        recv, send = _CTX.Pipe(duplex=False)
        slot.proc = _CTX.Process(target=main, args=(slot.spec, send, self._stop), daemon=True,
                                 name=slot.spec.process)
        slot.proc.start()
        send.close()
        slot.pipe = recv

    def _take(self, slot: Slot, event: tuple) -> None:
        process, type_, f, value, at, node, error = event
        node = self._names.get(str(node).upper(), node) if node else node
        slot.open = (f, value) if type_ == "invoke" else None
        assert self.history is not None
        self.history.record(process, type_, f, value, error=error, node=node, at=at)

    def _drain(self, slot: Slot) -> None:
        """Everything the client sent; the pipe is closed once it is empty and the client gone."""
        while slot.pipe is not None:
            try:
                if not slot.pipe.poll():
                    return
                self._take(slot, slot.pipe.recv())
            except (EOFError, OSError, ValueError):  # a client that died mid-send: what came before counts
                slot.pipe.close()
                slot.pipe = None

    def _lost(self, slot: Slot, why: str) -> None:
        """The client is gone: its open operation, if any, becomes info."""
        self._drain(slot)
        if slot.open is not None:
            assert self.history is not None
            f, value = slot.open
            self.history.record(slot.spec.process, "info", f, value, error=why)
            slot.open = None
        if slot.pipe is not None:
            slot.pipe.close()
            slot.pipe = None

    def _collect(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            pipes = {s.pipe: s for s in self.slots if s.pipe is not None}
            for pipe in wait_pipes(list(pipes), timeout=0.2) if pipes else []:
                self._drain(pipes[pipe])
            if not pipes:
                stopping.wait(0.2)
            for slot in self.slots:
                if slot.proc is not None and not slot.proc.is_alive() and not self._stop.is_set():
                    self.crashes += 1
                    self._lost(slot, f"client process died (exit code {slot.proc.exitcode})")
                    slot.proc = None
                    if slot.respawns < RESPAWNS:
                        slot.respawns += 1
                        slot.spec = dataclasses.replace(slot.spec, crash_after=None)
                        self._spawn(slot)

    def _stop_clients(self, hist: History) -> None:
        self._stop.set()
        deadline = time.monotonic() + self.base.statement_timeout + JOIN_MARGIN
        for slot in self.slots:
            if slot.proc is None:
                continue
            while slot.proc.is_alive() and time.monotonic() < deadline:
                self._drain(slot)
                slot.proc.join(0.1)
            if slot.proc.is_alive():
                slot.proc.kill()
                slot.proc.join(5)
                hist.note(f"client {slot.spec.process} still running at the end: killed")
                self._lost(slot, "client process killed at the end of the run")
            else:
                self._lost(slot, f"client process ended (exit code {slot.proc.exitcode}) with this op open")

    # ---- setup and final read ----------------------------------------------------------------------
    def setup(self) -> None:
        """The model's tables on the primary (through the service name, under the statement deadline)."""
        def create(conn: Any) -> None:
            self.model.setup(Tx(conn))

        s = self.base._session(None, f"{self.model.kind}-setup")
        try:
            s.run(create, f"{self.model.kind} setup")
        finally:
            s.close()
        self._setup_seen()

    def _setup_seen(self) -> None:
        """The pinned readers start once every instance shows the setup (or SETUP_SEEN_S has passed): a
        real-time standby applies redo after acknowledging it, on real DM8 too, so a standby read in the
        first instant after the setup's commit could precede it there; that is lag, not a missing account.
        An instance that stays down or behind is left to the readers (their reads fail or lag, as before)."""
        ops = self.model.final_ops()[:1] if self.readers and getattr(self.model, "pinned_readers", False) else []
        if not ops:
            return
        f, value = ops[0]

        def read(inst: str | None) -> Any:
            return self.base._read(inst, lambda conn: self.model.apply(Tx(conn), f, value), 1.0, "setup read")

        try:
            want = read(None)
        except Exception:  # noqa: BLE001 - the primary's own read failed: nothing to compare with
            return
        deadline = time.monotonic() + SETUP_SEEN_S
        for inst in self.instances:
            with contextlib.suppress(WaitTimeout):
                wait_until(lambda inst=inst: read(inst), max(0.0, deadline - time.monotonic()),
                           f"{inst} to show the {self.model.kind} setup", ok=lambda got: got == want, interval=0.2)

    def final(self, hist: History) -> None:
        """Once the faults are healed and one primary stands: the model's final reads on that primary."""
        timeout = float(self.topology.timers.failure_detect() * 2 + 30)
        if self.chaos is not None:
            self.chaos.heal_all()
        primary = self.base.wait_single_primary(hist, timeout)
        hist.set_primary(primary)
        for f, value in self.model.final_ops():
            hist.record("final", "invoke", f, value, node=primary)
            try:
                got = self.base._read(primary, lambda conn, f=f, value=value: self.model.apply(Tx(conn), f, value),
                                      timeout, "final read")
            except Exception as exc:  # noqa: BLE001 - recorded; the checker decides what it can
                hist.record("final", "fail", f, value, error=str(exc)[:300], node=primary)
            else:
                hist.record("final", "ok", f, got, node=primary)

    # ---- the API suites use ----------------------------------------------------------------------
    @contextlib.contextmanager
    def running(self, acked: int = 10, final: bool = True) -> Iterator[Run]:
        """Clients and role pollers run inside the block (which starts once `acked` operations are ok);
        on exit the clients stop (bounded), the final read runs and the history is closed."""
        kind = self.model.kind
        path = self.run_dir / f"history-{kind}-{next(_tables)}.jsonl" if self.run_dir else None
        hist = History(seed=self.seed, path=path)
        self.history = hist
        declare(hist, kind, **self.model.params())
        print(f"{kind} workload seed {self.seed} ({self.writers} writers)", flush=True)
        self.setup()
        self._stop = _CTX.Event()
        self.slots = [Slot(spec) for spec in self.specs()]
        for slot in self.slots:
            self._spawn(slot)
        stopping, poll_stop = threading.Event(), threading.Event()
        collector = threading.Thread(target=self._collect, args=(stopping,), daemon=True, name=f"{kind}-collect")
        pollers = [threading.Thread(target=self.base._poller, args=(i, hist, poll_stop), daemon=True,
                                    name=f"{kind}-poll-{i}") for i in self.instances]
        for t in [collector, *pollers]:
            t.start()
        run = Run(self, hist)
        try:
            if acked:
                run.wait_acked(acked, timeout=max(60.0, self.topology.timers.group_open()))
            yield run
        finally:
            stopping.set()
            collector.join(5)
            self._stop_clients(hist)
            poll_stop.set()
            self.base._join(pollers, self.base.poll_timeout + JOIN_MARGIN, hist)
            self.base.finish(hist, final, self.final)

"""Redo of an instance: records built from commits, shipped (REALTIME before, TIMELY after the local
flush) and written to the online log and local archives; standby apply of the primary's records;
crash recovery from the online log. A mixin of Instance, which owns the state it uses."""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from . import anomalies, bugs, hostfaults
from .api import RedoRecord
from .errors import err
from .storage import encode_frame

STANDBY_FLUSH_S = 0.05                  # a standby fsyncs the redo it logged at most this long after
CHUNK_ROWS = 50_000                     # rows per RedoRecord chunk of a large transaction
INST_OP = "DMEMU_INST"                  # first element of instance-level redo ops (tablespaces, N_OPEN)

# Bytes of the newest redo kept in memory for re-sending to a returning standby (DMEMU_REDO_TAIL_MB).
REDO_TAIL_BYTES = int(float(os.environ.get("DMEMU_REDO_TAIL_MB", "64")) * 1024 * 1024)


def _op_rows(op: object) -> int:
    """Rows an engine redo op carries (for chunking): I and D ops carry row lists."""
    if isinstance(op, tuple) and len(op) >= 3:
        if op[0] == "I" and len(op) >= 4:
            return len(op[3])
        if op[0] == "D":
            return len(op[2])
    return 1


class _EngineBatch:
    """Engine ops of consecutive complete transactions, applied as one engine transaction (db.apply is
    atomic and records the last transaction's lsn_hi); bounded to about CHUNK_ROWS rows."""

    __slots__ = ("db", "ops", "lsn_hi", "rows")

    def __init__(self, db):
        self.db = db
        self.ops: list = []
        self.lsn_hi = 0
        self.rows = 0

    def add(self, ops: list, lsn_hi: int) -> None:
        """Queue one transaction's ops; one the engine already holds (lsn_hi <= its cur_lsn) is skipped."""
        if not ops or lsn_hi <= int(self.db.cur_lsn):
            return
        self.ops.extend(ops)
        self.lsn_hi = lsn_hi
        self.rows += sum(_op_rows(op) for op in ops)
        if self.rows >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.ops:
            ops, self.ops, self.rows = self.ops, [], 0
            self.db.apply(ops, self.lsn_hi)


class InstanceRedo:
    """Redo writing, shipping, standby apply and recovery of an Instance (a mixin: the attributes
    it uses, such as log, _archives, _tail, _lsn and _redo_lock, are set by Instance.__init__)."""

    def _recover(self) -> None:
        """Replay online-log transactions the engine has not committed (crash between redo fsync and commit).

        Chunks of one transaction share `seq`; only groups ending in a `last` chunk are replayed."""
        self.log.cut_torn_tails()
        base = int(self.db.cur_lsn)
        last = max(base, self.log.last_lsn())
        self._seq = max(self._seq, self.log.last_seq())
        held, self._apply_buf = self._apply_buf, []
        batch = _EngineBatch(self.db)
        for rec in self.log.records(after_lsn=base):
            self._gather(rec, batch)
        batch.flush()
        self._apply_buf = held                       # a transaction the log does not finish is dropped
        self._lsn = self._flushed = last

    def _gather(self, rec: RedoRecord, batch: _EngineBatch, split: bool = False) -> None:
        """Add `rec` to its transaction (chunks share `seq`; a new seq means the primary aborted the
        buffered one); a complete transaction's instance ops are applied at once, after the engine
        ops `batch` holds, and its engine ops join `batch`."""
        if self._apply_buf and self._apply_buf[0].seq != rec.seq:
            self._apply_buf = []
        self._apply_buf.append(rec)
        if not rec.last:
            return
        group, self._apply_buf = self._apply_buf, []
        db_ops = []
        for r in group:
            for op in r.ops:
                if isinstance(op, tuple) and op and op[0] == INST_OP:
                    batch.flush()
                    self._apply_inst_op(op)
                else:
                    db_ops.append(op)
        if split and bugs.active("standby-partial-apply") and len(db_ops) > 1:
            batch.flush()
            if anomalies.split_apply(self.db.apply, db_ops, group[0].lsn_lo, group[-1].lsn_hi):
                return
        batch.add(db_ops, group[-1].lsn_hi)

    # ---- redo ------------------------------------------------------------------------------
    def _new_record(self, ops: list, seq: int | None = None, last: bool = True) -> RedoRecord:
        lo = self._lsn + 1
        return RedoRecord(lsn_lo=lo, lsn_hi=lo + max(1, len(ops)) - 1, ops=ops, db_magic=self.db_magic,
                          permanent_magic=self.permanent_magic, oguid=self.oguid,
                          seq=self._seq + 1 if seq is None else seq, ts=hostfaults.now(), last=last)

    def _ship_and_log(self, rec: RedoRecord) -> None:
        blob = rec.encode()
        self._encoded = (rec, blob)             # the REALTIME sender reuses it (encoded())
        try:
            if self.realtime_sender is not None:
                self.realtime_sender(rec)       # REALTIME: before the local flush; may block or raise
            self._write_redo(rec, blob=blob)
            if self.timely_sender is not None:
                self.timely_sender(rec)         # TIMELY: after the local flush, before the commit returns
        finally:
            self._encoded = None

    def encoded(self, rec: RedoRecord) -> bytes:
        """rec.encode(), reusing the encoding of the record being committed (one encoding per commit)."""
        cur = self._encoded
        return cur[1] if cur is not None and cur[0] is rec else rec.encode()

    def _sync_before_log_switch(self) -> None:
        """The online log is about to empty its other file: make what it covered durable in SQLite
        and the archives first (both skip per-commit fsyncs and rely on the online log until then)."""
        if self.db is not None:
            self.db.sync()
        for a in self._archives:
            a.sync()
        self.log.sync()

    def _flush_standby_redo(self) -> None:
        """Standby log flush task: fsync the redo apply_redo logged, STANDBY_FLUSH_S after it was written.

        A standby acknowledges a package on receipt (KEEP_BUF), so its own log's fsync is not part
        of the primary's commit; flushing here keeps it off the apply path (one fsync per batch)."""
        while self.status != "SHUTDOWN":
            if not self._standby_dirty.wait(0.5):
                continue
            time.sleep(STANDBY_FLUSH_S)               # gather what arrives meanwhile into one fsync
            with self._redo_lock:
                self._standby_dirty.clear()
                if self.status == "SHUTDOWN":
                    return
                try:
                    self.log.sync()
                    for a in self._archives:
                        a.sync()
                except OSError:
                    self._standby_dirty.set()

    def _write_redo(self, rec: RedoRecord, durable: bool = True, blob: bytes | None = None) -> None:
        durable = durable and not bugs.active("commit-not-durable")
        blob = rec.encode() if blob is None else blob
        frame = encode_frame(rec, blob)
        self._until_written(lambda: self.log.append_frame(frame, durable=durable))
        for a in self._archives:
            self._until_written(lambda a=a: a.append_frame(frame, self.db_magic))
        self._tail.append((rec, blob))
        self._tail_bytes += len(blob)
        while self._tail_bytes > REDO_TAIL_BYTES and len(self._tail) > 1:
            self._tail_bytes -= len(self._tail.popleft()[1])

    def _until_written(self, write: Callable[[], object]) -> None:
        """ARCH_HANG_FLAG=1 (DM8's default, reference §1): a redo or archive write that finds no space
        left hangs the commit (and every commit behind it) until space returns, instead of failing it."""
        while True:
            try:
                write()
                return
            except OSError as e:
                if e.errno != errno.ENOSPC or self.status == "SHUTDOWN":
                    raise
                time.sleep(0.2)

    def redo_since(self, lsn: int) -> Iterator[tuple[RedoRecord, bytes]]:
        """(record, encoding) with lsn_hi > lsn in LSN order: from the in-memory tail of the newest redo this
        process wrote when it reaches back far enough (a standby returning after a short fault), else from
        the local archives, then the online log (a scan of the files from their start)."""
        tail = list(self._tail)
        if tail and tail[0][0].lsn_lo <= lsn + 1:
            yield from ((rec, blob) for rec, blob in tail if rec.lsn_hi > lsn)
            return
        seen = lsn
        sources: list[Iterator[RedoRecord]] = [a.records(lsn) for a in self._archives]
        sources.append(self.log.records(lsn))
        for src in sources:
            for rec in src:
                if rec.lsn_hi > seen:
                    seen = rec.lsn_hi
                    yield rec, rec.encode()

    def apply_redo(self, record: RedoRecord) -> None:
        """Standby apply of one realtime package (see apply_redo_batch)."""
        self.apply_redo_batch([record])

    def apply_redo_batch(self, records: Sequence[RedoRecord]) -> None:
        """Standby apply of consecutive records of the primary: log each locally (online log + archives),
        apply a transaction once its last chunk arrived. The engine ops of successive transactions
        share one engine transaction (recovery re-sends thousands of small commits per batch); the
        LSNs advance once they are applied, so a caught-up cur_lsn means the data is there."""
        if not records:
            return
        with self._redo_lock:
            batch = _EngineBatch(self.db)
            try:
                for rec in records:
                    self._write_redo(rec, durable=False)     # fsynced by _flush_standby_redo
                    self._gather(rec, batch, split=True)
                batch.flush()
            finally:
                self._standby_dirty.set()
                if self._flusher is None or not self._flusher.is_alive():
                    self._flusher = threading.Thread(target=self._flush_standby_redo, name="redo-flush",
                                                     daemon=True)
                    self._flusher.start()
            self._lsn = max(self._lsn, max(r.lsn_hi for r in records))
            self._flushed = self._lsn
            self._seq = max(self._seq, max(r.seq for r in records))

    # ---- engine hooks ----------------------------------------------------------------------
    def before_commit(self, ops: list) -> int:
        with self._state:
            while self.status == "SUSPEND":
                self._state.wait(0.5)
            if self.status not in ("OPEN",):          # OPEN->MOUNT rolls back what was still open
                raise err(-8506, "db_not_open", status=self.status)
        if self.mode == "STANDBY" and not bugs.active("standby-accepts-dml"):
            if self.demotion.acks():
                return self._lsn                    # seeded defect: acknowledged, never logged nor shipped
            raise err(-2018)
        with self._redo_lock:
            seq = self._seq + 1
            chunk: list = []
            rows = 0
            prev: list | None = None
            for op in ops:                          # ops may be a lazy sequence: stream it in chunks
                chunk.append(op)
                rows += _op_rows(op)
                if rows >= CHUNK_ROWS:
                    if prev is not None:
                        self._emit(prev, seq, last=False)
                    prev, chunk, rows = chunk, [], 0
            if prev is not None and chunk:
                self._emit(prev, seq, last=False)
                prev = chunk
            elif prev is None:
                prev = chunk
            rec = self._emit(prev, seq, last=True)
            return rec.lsn_hi

    def _emit(self, ops: list, seq: int, last: bool) -> RedoRecord:
        carry = self._n_open_unshipped and self.mode == "PRIMARY"
        if carry:
            ops = [(INST_OP, "N_OPEN", self.n_open), *ops]
        rec = self._new_record(ops, seq, last)
        self._ship_and_log(rec)
        if carry:
            self._n_open_unshipped = False
        self._lsn = rec.lsn_hi
        self._flushed = rec.lsn_hi
        self._seq = seq
        return rec

    def after_commit(self, lsn_hi: int) -> None:
        self._flushed = max(self._flushed, int(lsn_hi))


__all__ = ["CHUNK_ROWS", "INST_OP", "REDO_TAIL_BYTES", "STANDBY_FLUSH_S", "InstanceRedo"]

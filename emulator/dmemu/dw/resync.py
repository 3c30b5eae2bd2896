"""Catching a standby up from the sender's redo history: recovery of a returning real-time standby (after
INST_RECOVER_TIME, its archive VALID at the end) and the batches an ASYNC timer tick sends (asyncarch.py).

The standby names its LSN; everything after it is streamed from the sender's memory tail, archives and online
log (`inst.redo_since`) in `recover` batches of up to ~4 MB, applied by the standby in one go each.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from ..api import RedoRecord
from ..errors import DmError
from . import protocol
from .mal import ERR_LSN_GAP, ERR_SEND, Mal, _err

BATCH_BYTES = 4 * 1024 * 1024


def recover(mal: Mal, dest: str) -> dict:
    """Re-send history redo to real-time standby `dest` and set its archive VALID (INST_RECOVER_TIME
    elapsed); the last stretch and VALID happen under the redo lock, so no commit slips between them."""
    a = next((x for x in mal.realtime_dests() if x["dest"].upper() == dest.upper()), None)
    if a is None:
        raise _err(ERR_SEND, "mal_no_dest", name=dest)
    inst = mal.inst
    st = mal._stat(dest)
    st.recover_time = time.time()
    c = mal.link(dest)
    r = c.request({"op": "lsn"}, timeout=10)
    if not r.get("ok"):
        raise DmError(r.get("code", ERR_SEND), r.get("error", ""))
    lsn = int(r["lsn"])
    if lsn > inst.cur_lsn:
        raise _err(ERR_LSN_GAP, "mal_lsn_gap", want=inst.cur_lsn, got=lsn)
    lsn = stream(c, inst.redo_since(lsn), lsn)
    with inst._redo_lock:
        lsn = stream(c, inst.redo_since(lsn), lsn)
        c.request({"op": "recovered", "n_open": inst.n_open}, timeout=10)
        a["status"] = "VALID"
        mal._unflushed.pop(dest, None)
    st.recover_code = 0
    st.max_send_lsn = st.last_send_lsn = lsn
    return {"ok": True, "lsn": lsn}


def stream(c: protocol.Conn, recs: Iterator[tuple[RedoRecord, bytes]], lsn: int) -> int:
    """Send every record after `lsn` over link `c` in batches; returns the last LSN sent."""
    batch, size = [], 0
    for rec, blob in recs:
        if rec.lsn_hi <= lsn:
            continue
        batch.append(blob)
        size += len(blob)
        lsn = rec.lsn_hi
        if size > BATCH_BYTES:
            _push_batch(c, batch)
            batch, size = [], 0
    if batch:
        _push_batch(c, batch)
    return lsn


def _push_batch(c: protocol.Conn, batch: list[bytes]) -> None:
    r = c.request({"op": "recover", "blobs": batch}, timeout=60)
    if not r.get("ok"):
        raise DmError(r.get("code", ERR_SEND), r.get("error", ""))

"""Archive configuration of an instance: dmarch.ini destinations, ALTER DATABASE ARCHIVELOG changes and
the local archive writers built from them. A mixin of Instance, which owns the state it uses."""

from __future__ import annotations

import os

from . import bugs
from . import ini as dmini
from .errors import err
from .storage import ArchiveDest, LocalArchive


def load_arch(config_dir: str, arch_ini: bool) -> list[dict]:
    """Archive destinations from dmarch.ini (only when ARCH_INI=1)."""
    path = os.path.join(config_dir, "dmarch.ini")
    if not arch_ini or not os.path.exists(path):
        return []
    out = []
    for sec in dmini.load(path).named():
        typ = (sec.get("ARCH_TYPE") or "LOCAL").upper()
        out.append({
            "name": sec.name.upper(), "type": typ, "dest": sec.get("ARCH_DEST") or "",
            "status": "VALID", "file_size": sec.int("ARCH_FILE_SIZE", 1024),
            "space_limit": sec.int("ARCH_SPACE_LIMIT", 0), "items": sec.as_dict(),
        })
    return out


class InstanceArchives:
    """dmarch.ini and archive destinations of an Instance (a mixin: arch, _archives, ini, paths, log,
    status and set_para come from Instance)."""

    def set_archivelog(self, on: bool) -> None:
        if self.status != "MOUNT":
            raise err(-8508, "arch_needs_mount")
        if on and not any(a["type"] == "LOCAL" for a in load_arch(self.paths["config"], True)):
            raise err(-8509, "no_local_arch")
        self.set_para("ARCH_INI", "1" if on else "0", 1)
        self._reload_arch()

    def change_archive(self, op: str, spec: str) -> None:
        """ALTER DATABASE ADD|DELETE|MODIFY ARCHIVELOG 'DEST=...,TYPE=...,FILE_SIZE=..,SPACE_LIMIT=..'."""
        if self.status != "MOUNT":
            raise err(-8508, "arch_needs_mount")
        kv = {}
        for part in spec.split(","):
            if "=" not in part:
                raise err(-8510, "bad_arch_spec", spec=spec)
            k, v = (x.strip() for x in part.split("=", 1))
            kv[k.upper()] = v
        if "DEST" not in kv:
            raise err(-8510, "bad_arch_spec", spec=spec)
        typ = kv.get("TYPE", "LOCAL").upper()
        if typ not in ("LOCAL", "REALTIME", "TIMELY", "ASYNC", "REMOTE", "SYNC"):
            raise err(-8510, "bad_arch_spec", spec=spec)
        path = os.path.join(self.paths["config"], "dmarch.ini")
        existing = dmini.load(path).named() if os.path.exists(path) else []
        sections = [(s.name, s.items) for s in existing]
        same = [i for i, (_, items) in enumerate(sections) if dict(items).get("ARCH_DEST") == kv["DEST"]]
        if op == "ADD":
            if same:
                raise err(-8511, "arch_exists", dest=kv["DEST"])
            n = 1 + sum(1 for name, _ in sections if dict(_).get("ARCH_TYPE", "").upper() == typ)
            name = f"ARCHIVE_{typ}{n}" if typ == "LOCAL" else f"ARCHIVE_{typ}{'' if n == 1 else n}"
            items = [("ARCH_TYPE", typ), ("ARCH_DEST", kv["DEST"])]
            if typ == "LOCAL":
                items += [("ARCH_FILE_SIZE", kv.get("FILE_SIZE", "1024")),
                          ("ARCH_SPACE_LIMIT", kv.get("SPACE_LIMIT", "0"))]
            sections.append((name, items))
        elif op == "DELETE":
            if not same:
                raise err(-8510, "bad_arch_spec", spec=spec)
            sections = [s for i, s in enumerate(sections) if i not in same]
        else:
            if not same:
                raise err(-8510, "bad_arch_spec", spec=spec)
            name, items = sections[same[0]]
            d = dict(items)
            if "FILE_SIZE" in kv:
                d["ARCH_FILE_SIZE"] = kv["FILE_SIZE"]
            if "SPACE_LIMIT" in kv:
                d["ARCH_SPACE_LIMIT"] = kv["SPACE_LIMIT"]
            sections[same[0]] = (name, list(d.items()))
        text = "".join(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in items) + "\n"
                       for name, items in sections)
        from .storage import write_atomic
        write_atomic(path, text.encode())
        self._reload_arch()

    def _reload_arch(self) -> None:
        old = {a["name"]: a for a in self.arch}
        self.arch = load_arch(self.paths["config"], self.ini.get("ARCH_INI", "0") == "1")
        for a in self.arch:                         # keep runtime status set by dw
            if a["name"] in old:
                a["status"] = old[a["name"]]["status"]
        durable = not bugs.active("commit-not-durable")
        self._archives = [LocalArchive(ArchiveDest(a["name"], a["dest"], int(a["file_size"]),
                                                   int(a["space_limit"])), durable)
                          for a in self.arch if a["type"] == "LOCAL"]

    def _catch_up_archives(self) -> None:
        """After a crash: cut torn archive tails and archive what reached the online log only."""
        for a in self._archives:
            a.cut_torn_tail()
            last = a.last_lsn()
            if last:
                for rec in self.log.records(after_lsn=last):
                    a.append(rec, self.db_magic)


__all__ = ["InstanceArchives", "load_arch"]

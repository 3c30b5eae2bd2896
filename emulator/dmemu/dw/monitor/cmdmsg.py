"""Messages of `detach database` / `attach database` (reference §4.2). Their wording is unverified: no
capture in tests/corpus/dm8/ shows these commands, so it is the emulator's own (lang.py)."""

from __future__ import annotations

from ... import lang

lang.register({
    "m_detach_primary": ("不能分离主库{name}", "Cannot detach the primary instance {name}"),
    "m_detach_not_standby": ("实例{name}不是可分离的备库", "Instance {name} is not a standby that can be detached"),
    "m_not_detached": ("实例{name}未被分离", "Instance {name} is not detached"),
    "m_detach_ok": ("分离实例{name}成功", "Detach instance {name} success"),
    "m_attach_ok": ("通知守护进程{name}重新加入成功", "Notify dmwatcher {name} to attach success"),
})

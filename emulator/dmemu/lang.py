"""Message catalog: Chinese by default, English when LANGUAGE=en (DM8's own switch).

Every user-visible DM message goes through msg(key, **fmt) so both languages stay in one place.
Layers add their keys to MESSAGES with register(); a key maps to (cn, en).
"""

from __future__ import annotations

import os

MESSAGES: dict[str, tuple[str, str]] = {
    "-2501": ("用户名或密码错误", "Invalid username or password"),
    "-2106": ("无效的表或视图名[{name}]", "Invalid table or view name [{name}]"),
    "-2007": ("语法分析出错", "Syntax error"),
    "-2018": ("STANDBY模式下不支持对非临时表或含有lob类型列的表进行增删改操作",
              "Not support DML on non-temporary table or table with LOB column in STANDBY mode"),
    "-710": ("试图在STANDBY模式下,修改用户库", "Try to modify user database in STANDBY mode"),
}


def is_en() -> bool:
    v = os.environ.get("LANGUAGE", os.environ.get("DM_LANG", "cn")).lower()
    return v.startswith("en")


def register(entries: dict[str, tuple[str, str]]) -> None:
    MESSAGES.update(entries)


def msg(key: str, **fmt: object) -> str:
    cn, en = MESSAGES.get(key, (key, key))
    text = en if is_en() else cn
    return text.format(**fmt) if fmt else text

"""Message catalog: Chinese by default, English when LANGUAGE=en (DM8's own switch).

Every user-visible DM message goes through msg(key, **fmt) so both languages stay in one place.
Layers add their keys to MESSAGES with register(); a key maps to (cn, en).

Wording is the emulator's guess unless a real capture (tests/corpus/dm8/, each file citing its source)
confirms it: VERIFIED lists the confirmed keys per language with the capture; every other key (all of
MESSAGES below, instmsg.py, sql's messages, the watcher's and most of the monitor's) is unverified, and no
harness decision may rest on it. Layers record confirmations with confirm().
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


VERIFIED: dict[str, tuple[frozenset[str], str]] = {}      # key -> (languages confirmed, capture file)


def confirm(entries: dict[str, tuple[str, str]]) -> None:
    """Record keys a real capture confirms: {key: ("cn" | "en" | "cn,en", capture file or source)}."""
    for key, (langs, where) in entries.items():
        VERIFIED[key] = (frozenset(x.strip() for x in langs.split(",")), where)


def verified(key: str, language: str) -> bool:
    """Whether a real capture confirms `key`'s wording in `language` ("cn" or "en")."""
    return language in VERIFIED.get(key, (frozenset(), ""))[0]


def is_en() -> bool:
    v = os.environ.get("LANGUAGE", os.environ.get("DM_LANG", "cn")).lower()
    return v.startswith("en")


def register(entries: dict[str, tuple[str, str]]) -> None:
    MESSAGES.update(entries)


def msg(key: str, **fmt: object) -> str:
    cn, en = MESSAGES.get(key, (key, key))
    text = en if is_en() else cn
    return text.format(**fmt) if fmt else text

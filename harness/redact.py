"""Password masking for the report page and every text file of the run folder.

Masked: the seed's password and any registered secret; values of keys naming a password (PWD, PASSWORD,
PASSWD, SECRET, 密码); `user/password@host` in disql command lines; `IDENTIFIED BY ...` in SQL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MASK = "******"
SEED_PASSWORD = "Mema_1234"  # the seed's password for SYSDBA and the OS user; always masked
SECRET_KEY = re.compile(r"(?i)PWD|PASSWORD|PASSWD|SECRET|密码")
_KEY_VALUE = re.compile(
    r"(?i)\b([\w.-]*(?:PWD|PASSWORD|PASSWD|SECRET|密码)[\w.-]*)(\"?'?[ \t]*[=:：][ \t]*)(\"?'?)([^\s\"',;}&<]+)"
)
_USER_SLASH_PWD = re.compile(r"(?<![\w/.~-])([A-Za-z_][\w$#]*)/(\"?)([^\s/@\"']+)\2@(?=[\w.\[\]:-])")
_IDENTIFIED_BY = re.compile(r"(?i)(IDENTIFIED\s+BY\s+)(\"?)([^\s\";]+)")
_DATA_URI = re.compile(r"data:[\w/+.-]+(?:;[\w=.-]+)*;base64,[A-Za-z0-9+/=]+")
_MAX_FILE_BYTES = 64 * 1024 * 1024
_secret_values: set[str] = {SEED_PASSWORD}


def add_secret(value: str | None) -> None:
    """Mask this literal everywhere in the report and copied files from now on (ignored if < 4 chars)."""
    if value and len(str(value)) >= 4:
        _secret_values.add(str(value))


def _redact_plain(text: str) -> str:
    for value in sorted(_secret_values, key=len, reverse=True):
        text = text.replace(value, MASK)
    text = _KEY_VALUE.sub(lambda m: m.group(1) + m.group(2) + m.group(3) + MASK
                          if m.group(4) != MASK else m.group(0), text)
    text = _USER_SLASH_PWD.sub(lambda m: f"{m.group(1)}/{m.group(2)}{MASK}{m.group(2)}@", text)
    return _IDENTIFIED_BY.sub(lambda m: m.group(1) + m.group(2) + MASK, text)


def redact(text: str) -> str:
    """Mask passwords: known secrets, values of *PWD*/*PASSWORD* keys, user/pwd@host, IDENTIFIED BY.

    Embedded base64 data URIs are left alone (they are redacted before encoding).
    """
    out, pos = [], 0
    for m in _DATA_URI.finditer(text):
        out.append(_redact_plain(text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_redact_plain(text[pos:]))
    return "".join(out)


def redact_value(key: str, value: Any) -> Any:
    """Redact one (possibly nested) metadata value; keys naming a password are masked whole."""
    if SECRET_KEY.search(str(key)):
        if isinstance(value, str):
            add_secret(value)
        return MASK
    if isinstance(value, Mapping):
        return {k: redact_value(k, v) for k, v in value.items()}
    return value


def redact_file(path: Path) -> None:
    """Redact a text file in place (binary and very large files are left alone)."""
    try:
        if path.stat().st_size > _MAX_FILE_BYTES:
            return
        raw = path.read_bytes()
    except OSError:
        return
    if b"\0" in raw[:4096]:
        return
    text = raw.decode("utf-8", errors="surrogateescape")
    new = redact(text)
    if new != text:
        path.write_bytes(new.encode("utf-8", errors="surrogateescape"))

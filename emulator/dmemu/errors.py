"""DM error codes and the exception every layer raises for them."""

from __future__ import annotations

from . import lang


class DmError(Exception):
    """An error with a DM8 code (negative) and a message in the session language."""

    def __init__(self, code: int, message: str):
        super().__init__(f"[{code}]:{message}")
        self.code = code
        self.message = message


def err(code: int, key: str | None = None, **fmt: object) -> DmError:
    """Build a DmError from the message catalog (lang.MESSAGES), e.g. err(-2106, 'no_object', name='T')."""
    return DmError(code, lang.msg(key or str(code), **fmt))

"""The monitor sentences marked confirmed (dmemu.dw.messages.CONFIRMED) really appear, as the emulator
words them, in the real capture each one cites (tests/corpus/dm8/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dmemu import lang
from dmemu.dw import messages

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "dm8"


def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile(r"\S+?".join(re.escape(p) for p in parts))


@pytest.mark.parametrize("key", sorted(k for k, (langs, _) in messages.CONFIRMED.items() if "cn" in langs))
def test_confirmed_chinese_sentence_is_in_its_capture(key):
    capture = messages.CONFIRMED[key][1].split(";")[0].removeprefix("cn: ").split(" ")[0]
    text = (CORPUS / capture).read_text(encoding="utf-8")
    cn = lang.MESSAGES[key][0]
    assert _pattern(cn).search(text), f"{key}: {cn!r} not in {capture}"
    assert lang.verified(key, "cn")


def test_unconfirmed_sentences_are_not_verified():
    assert not lang.verified("m_tk_ok", "cn") and not lang.verified("m_sw_ok", "en")
    assert not lang.verified("-2501", "cn")

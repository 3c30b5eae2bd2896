"""Seed citations name real sections: the sign-off items' and those in suite docstrings exist as headings
of the seed document (its outline, tests/report/seed_outline.md), so the numbering cannot drift again."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from harness import signoff

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
_TOP = re.compile(r"^##\s+([一二三四五六七八九十]+)、")
_APPENDIX = re.compile(r"^##\s+附录")
_SUB = re.compile(r"^###\s+(\d+)、")
_SUBSUB = re.compile(r"^####\s+(\d+)\.(\d+)\s")


def seed_sections(markdown: str) -> set[str]:
    """Citable sections of the seed's markdown: 十二 (## 十二、), 十二.2 (### 2、), 十二.2.1 (#### 2.1), 附录.

    Lines in fenced code blocks (shell comments start with # there) are not headings."""
    found: set[str] = set()
    top = sub = None
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        if m := _TOP.match(line):
            top, sub = m.group(1), None
            found.add(top)
        elif _APPENDIX.match(line):
            top, sub = None, None
            found.add("附录")
        elif (m := _SUB.match(line)) and top:
            sub = m.group(1)
            found.add(f"{top}.{sub}")
        elif (m := _SUBSUB.match(line)) and top and m.group(1) == sub:
            found.add(f"{top}.{sub}.{m.group(2)}")
    return found


SECTIONS = seed_sections((HERE / "seed_outline.md").read_text(encoding="utf-8"))


def test_outline_parses_into_the_seed_numbering() -> None:
    assert {"四", "十", "十一.2", "十二.1", "十二.2.1", "十二.2.4", "十二.3", "十二.3.2", "十三", "附录"} <= SECTIONS
    assert "十二.4" not in SECTIONS and "十二.2.5" not in SECTIONS and "十.1" not in SECTIONS
    assert len(SECTIONS) == 47


def test_headings_in_code_blocks_are_not_sections() -> None:
    text = "## 三、安装\n### 1、用户\n```\n# 1 - 选c\n## 四、not a heading\n```\n### 2、限制\n"
    assert seed_sections(text) == {"三", "三.1", "三.2"}


@pytest.mark.parametrize("item", signoff.ITEMS, ids=lambda i: i.key)
def test_every_signoff_item_cites_seed_headings(item: signoff.Item) -> None:
    assert item.sections, f"{item.key}: cites no seed section: {item.seed!r}"
    missing = [s for s in item.sections if s not in SECTIONS]
    assert not missing, f"{item.key}: {missing} are not headings of the seed"


def test_signoff_cites_the_sections_the_tests_cite() -> None:
    cited = {i.key: i.sections for i in signoff.ITEMS}
    assert cited["switchover"] == ["十二.2.1"] and cited["takeover"] == ["十二.2.2"]
    assert cited["split-brain"] == ["十二.2.3", "十二.2.4"]
    assert cited["shutdown-order"][0] == "十二.3" and cited["client-failover"] == ["十三"]


def test_citations_skip_numerals_in_chinese_prose() -> None:
    assert signoff.citations("seed 十 / 十一.2, 十二.3.1 step 1 and 附录; 一致 三台主机 2节点配置一样") == [
        "十", "十一.2", "十二.3.1", "附录"]


def _docstrings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef)))]
    out = []
    for node in nodes:
        doc = ast.get_docstring(node, clean=False)
        if doc:
            out.append((node.body[0].lineno, doc))
    return out


def test_suite_docstrings_cite_existing_sections() -> None:
    files = sorted((REPO / "suites").rglob("test_*.py"))
    assert files
    bad = [f"{path.relative_to(REPO)}:{line}: {cite}" for path in files for line, doc in _docstrings(path)
           for cite in signoff.citations(doc) if cite not in SECTIONS]
    assert not bad, "citations of sections the seed does not have:\n" + "\n".join(bad)

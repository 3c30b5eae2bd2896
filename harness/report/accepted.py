"""The sign-off page's "Accepted deployment" section (--dw-existing): which deployment was signed (hosts,
DM build, what discovery read), which checks were skipped as destructive, and the restore log of every
test that changed the group.

Why on the sign-off page and not only in the environment table: the DBA signs for a named deployment, and
a verdict that left out the destructive checks, or whose destructive tests did not put the group back,
must be visible where the signature goes.
"""

from __future__ import annotations

from html import escape
from typing import Any

import pytest

from harness.inventory import DESTRUCTIVE_SKIP
from harness.redact import redact


def skip_reason(report: pytest.TestReport) -> str:
    """The reason of a skipped test report ("Skipped: " removed)."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr or "")
    return str(text).removeprefix("Skipped: ")


def accepted_html(env: dict[str, Any], skips: dict[str, str]) -> str:
    """The section, or "" when the run did not accept an existing deployment."""
    accepted = env.get("accepted")
    if not accepted:
        return ""
    parts = ['<section id="dw-accepted"><h2>Accepted deployment</h2>', _deployment(env, accepted),
             _skipped(skips), _restores(env.get("restores") or [])]
    return "".join(parts) + "</section>"


def _e(value: object) -> str:
    return escape(redact(str(value)))


def _deployment(env: dict[str, Any], accepted: dict[str, Any]) -> str:
    build = env.get("dm_build") or {}
    topo = env.get("topology") or {}
    head = (f"<p>Site <b>{_e(accepted.get('site') or '?')}</b> from <code>{_e(accepted.get('inventory', ''))}"
            f"</code>; DM build <b>{_e(build.get('BUILD_VERSION') or build.get('SVR_VERSION') or 'unknown')}</b>"
            f" ({_e(build.get('SVR_VERSION', ''))}); group {_e(topo.get('group', '?'))}, OGUID "
            f"{_e(topo.get('oguid', '?'))}, DW_MODE {_e(topo.get('dw_mode', '?'))} (discovered).</p>")
    files = accepted.get("files") or {}
    archives = accepted.get("archives") or {}
    rows = []
    for name, h in (accepted.get("hosts") or {}).items():
        inst = h.get("instance")
        rows.append(f"<tr><td>{_e(name)}</td><td>{_e(h.get('address', ''))}</td><td>{_e(inst or '')}</td>"
                    f"<td>{_e(h.get('inventory_role', ''))}</td><td>{_e(h.get('live_role', ''))}</td>"
                    f"<td>{_e(h.get('status', ''))}</td><td>{_e(', '.join(archives.get(inst, [])) if inst else '')}"
                    f"</td><td>{_e(', '.join(files.get(name, [])))}</td></tr>")
    table = ('<table class="dw-steps"><thead><tr><th>Host</th><th>Address</th><th>Instance</th><th>Inventory role'
             "</th><th>Live role</th><th>Status</th><th>Archives</th><th>Files read</th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>")
    notes = accepted.get("notes") or []
    notes_html = ("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>") if notes else ""
    return head + table + notes_html


def _skipped(skips: dict[str, str]) -> str:
    destructive = sorted(n for n, r in skips.items() if r.startswith(DESTRUCTIVE_SKIP))
    if not destructive:
        return '<p class="dw-sign">Checks skipped as destructive: none</p>'
    items = "".join(f"<li><code>{_e(n)}</code></li>" for n in destructive)
    return (f'<div class="dw-sign">Checks skipped as destructive (not part of this verdict; run with '
            f"--dw-allow-destructive): <b>{len(destructive)}</b><details><summary>tests</summary>"
            f"<ul>{items}</ul></details></div>")


def _restores(restores: list[dict[str, Any]]) -> str:
    if not restores:
        return '<p class="dw-sign">Restores after destructive tests: none</p>'
    rows = []
    for r in restores:
        ok = bool(r.get("ok"))
        roles = ", ".join(f"{i}={m}" for i, m in (r.get("roles") or {}).items())
        rows.append(f'<tr class="{"dw-ok" if ok else "dw-bad"}"><td><code>{_e(r.get("after", ""))}</code></td>'
                    f"<td>{_e('; '.join(r.get('actions') or []) or 'nothing to do')}</td><td>{_e(roles)}</td>"
                    f"<td>{'yes' if ok else 'NO'}</td><td>{_e(r.get('seconds', ''))} s</td></tr>")
    bad = sum(1 for r in restores if not r.get("ok"))
    return (f'<div class="dw-sign">Restores after destructive tests: {len(restores)}, {bad} failed'
            '<table class="dw-steps"><thead><tr><th>After</th><th>Actions</th><th>Roles in `show` after</th>'
            f"<th>Starting roles back</th><th>Duration</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            "</div>")

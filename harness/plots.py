"""Report plots as PNG bytes (matplotlib, Agg canvas, no pyplot global state).

timeline(): roles per instance over time, fault windows shaded, client writes ok/fail/info, RTO marked —
the picture a DBA needs to judge a failover or chaos test. apply_lag(): how far the standby trails the
primary during a bulk load. Inputs are plain dicts (or objects with the same attributes); times may be
epoch seconds, datetimes or seconds since start — the x axis is always seconds since the first event.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

ROLE_COLORS = {
    "PRIMARY": "#2e7d32",
    "STANDBY": "#1565c0",
    "NORMAL": "#9e9e9e",
    "MOUNT": "#8d6e63",
    "STARTUP": "#ffb300",
    "SUSPEND": "#fb8c00",
    "RECOVERY": "#7e57c2",
    "ERROR": "#c62828",
    "SHUTDOWN": "#424242",
    "DOWN": "#424242",
    "UNREACHABLE": "#616161",
    "UNKNOWN": "#e0e0e0",
}
WRITE_STYLES = {  # type -> (marker, color, label)
    "ok": ("o", "#2e7d32", "write ok"),
    "fail": ("x", "#c62828", "write failed"),
    "info": ("D", "#fb8c00", "write outcome unknown (info)"),
}


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """First present field among `names` of a dict or an object."""
    for name in names:
        if isinstance(obj, Mapping):
            if name in obj and obj[name] is not None:
                return obj[name]
        elif getattr(obj, name, None) is not None:
            return getattr(obj, name)
    return default


def _seconds(t: Any) -> float | None:
    """A time value as float seconds (datetime -> epoch, ISO string -> epoch)."""
    if t is None:
        return None
    if isinstance(t, datetime):
        return t.timestamp()
    if isinstance(t, str):
        try:
            return float(t)
        except ValueError:
            return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
    return float(t)


def records(data: Any) -> list[Any]:
    """Normalise a history/log: an iterable of records, or an object holding them in ops/records/events."""
    if data is None:
        return []
    for attr in ("ops", "records", "events", "history", "steps", "log", "faults"):
        inner = getattr(data, attr, None)
        if inner is not None and not callable(inner):
            return list(inner)
    if isinstance(data, Mapping):
        return [data]
    return list(data)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def timeline(
    samples: Iterable[Any] | None,
    faults: Iterable[Any] | None = None,
    history: Any = None,
    *,
    rto: Any = None,
    title: str = "Roles, faults and writes",
) -> bytes:
    """Timeline PNG.

    samples: {t, instance, role[, status]} — the role an instance reported at time t (it holds until the
             instance's next sample; the last one holds to the end of the plot).
    faults:  {start, end, name} — shaded windows (end None: until the end); chaos.log records fit.
    history: workload ops {time, type: invoke|ok|fail|info[, process]}; ok/fail/info are drawn.
    rto:     {start, end}, (start, end), or checker.Rto object(s) — outage windows, marked with their length.
    """
    samples = records(samples)
    faults = records(faults)
    ops = [op for op in records(history) if _get(op, "type") in WRITE_STYLES]

    times: list[float] = []
    lanes: dict[str, list[tuple[float, str]]] = {}
    for s in samples:
        t = _seconds(_get(s, "t", "time", "ts"))
        if t is None:
            continue
        inst = str(_get(s, "instance", "inst", "name", default="?"))
        lanes.setdefault(inst, []).append((t, _role_label(s)))
        times.append(t)
    fault_spans = []
    for f in faults:
        start = _seconds(_get(f, "start", "t0", "begin", "time"))
        end = _seconds(_get(f, "end", "t1", "stop", "healed"))
        label = str(_get(f, "name", "fault", "kind", "desc", default="fault"))
        if start is None:
            continue
        fault_spans.append((start, end, label))
        times += [start] + ([end] if end is not None else [])
    points = []
    for op in ops:
        t = _seconds(_get(op, "time", "t", "ts"))
        if t is not None:
            points.append((t, _get(op, "type")))
            times.append(t)
    rto_spans = _rto_spans(rto)
    for a, b, _ in rto_spans:
        times += [a, b]

    t0 = min(times) if times else 0.0
    t_end = max(times) if times else 1.0
    t_end = max(t_end, t0 + 1.0)
    span = t_end - t0

    inst_names = sorted(lanes)
    n_lanes = len(inst_names) + 1
    extra_rows = 0.35 * (min(len(fault_spans), 3) + len(rto_spans))
    fig = _figure(10, 1.3 + 0.55 * (n_lanes + extra_rows))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title)
    ax.set_xlabel("seconds since start")
    seen_roles: dict[str, Any] = {}
    for row, inst in enumerate(reversed(inst_names), start=1):
        pts = sorted(lanes[inst])
        for i, (t, role) in enumerate(pts):
            nxt = pts[i + 1][0] if i + 1 < len(pts) else t_end
            mode, _, status = role.partition("/")
            color = ROLE_COLORS.get(mode, ROLE_COLORS["UNKNOWN"])
            bar = ax.broken_barh([(t - t0, max(nxt - t, span * 0.002))], (row - 0.35, 0.7),
                                 facecolors=color, edgecolors="white" if status else "none",
                                 hatch="////" if status else None, linewidth=0)
            seen_roles.setdefault(role, bar)
    ax.set_yticks(range(0, n_lanes))
    ax.set_yticklabels(["writes"] + list(reversed(inst_names)))
    label_base = n_lanes - 0.62  # fault names sit above the top lane, in up to 3 staggered rows
    bottom = -0.5 - 0.32 * len(rto_spans) if rto_spans else -0.6
    top = label_base + 0.3 * min(len(fault_spans), 3) + 0.05 if fault_spans else n_lanes - 0.45
    ax.set_ylim(bottom, top)
    ax.set_xlim(0, span * 1.02)

    fault_handle = None
    for k, (start, end, label) in enumerate(sorted(fault_spans)):
        stop = end if end is not None else t_end
        if stop - start < span * 0.004:  # an instant fault (kill -9, a signal): a line, not a window
            ax.axvline(start - t0, color="#e53935", lw=1.5, alpha=0.8)
        else:
            fault_handle = ax.axvspan(start - t0, stop - t0, color="#e53935", alpha=0.15, lw=0)
        ax.text(start - t0, label_base + 0.3 * (k % 3) + 0.03, f" {label}", fontsize=8, color="#b71c1c",
                va="bottom", clip_on=True)

    write_handles = {}
    for kind, (marker, color, label) in WRITE_STYLES.items():
        xs = [t - t0 for t, k in points if k == kind]
        if xs:
            write_handles[label] = ax.scatter(xs, [0] * len(xs), marker=marker, s=14, color=color,
                                              linewidths=1, zorder=3)
    for k, (a, b, label) in enumerate(rto_spans):  # one row per window below the writes lane
        a, b, y = a - t0, b - t0, -0.5 - 0.32 * k
        for x in (a, b):
            ax.axvline(x, color="#6a1b9a", ls="--", lw=0.8, alpha=0.7)
        ax.annotate("", xy=(b, y), xytext=(a, y), arrowprops={"arrowstyle": "<->", "color": "#6a1b9a"})
        ax.text(b, y, f"  RTO {b - a:.1f} s{label}", ha="left", va="center", fontsize=8.5,
                color="#6a1b9a", fontweight="bold")

    handles = list(seen_roles.values()) + list(write_handles.values())
    labels = list(seen_roles) + list(write_handles)
    if fault_handle is not None:
        handles.append(fault_handle)
        labels.append("fault")
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _role_label(sample: Any) -> str:
    """MODE, or MODE/STATUS when the status is known and not OPEN (drawn hatched); UNREACHABLE if neither."""
    mode = _get(sample, "role", "mode")
    status = _get(sample, "status")
    if mode is None and status is None:
        return "UNREACHABLE"
    mode = str(mode or "UNKNOWN").upper()
    status = str(status or "").upper()
    return f"{mode}/{status}" if status and status not in ("OPEN", mode) else mode


def _rto_spans(rto: Any) -> list[tuple[float, float, str]]:
    """RTO windows from {start, end}, (start, end), checker.Rto objects (last_ok_before, first_ok_after,
    fault) or a list of those; windows with an open end are dropped."""
    if rto is None:
        return []
    if isinstance(rto, (list, tuple)) and not (len(rto) == 2 and all(isinstance(x, (int, float)) for x in rto)):
        return [span for r in rto for span in _rto_spans(r)]
    if isinstance(rto, (list, tuple)):
        a, b, label = _seconds(rto[0]), _seconds(rto[1]), ""
    elif _get(rto, "last_ok_before") is not None or _get(rto, "first_ok_after") is not None:
        a, b = _seconds(_get(rto, "last_ok_before")), _seconds(_get(rto, "first_ok_after"))
        fault = _get(rto, "fault")
        label = f" ({fault})" if fault else ""
    else:
        a, b, label = _seconds(_get(rto, "start")), _seconds(_get(rto, "end")), ""
    return [(a, b, label)] if a is not None and b is not None else []


def apply_lag(samples: Iterable[Any], *, title: str = "Standby apply lag during load") -> bytes:
    """Apply-lag PNG.

    samples: {t, lag} or {t, primary_lsn, standby_lsn} (lag = LSN difference); an optional `rows`
             (rows loaded so far) is drawn as load rate on a second axis.
    """
    pts = []
    for s in records(samples):
        t = _seconds(_get(s, "t", "time", "ts"))
        lag = _get(s, "lag")
        if lag is None:
            p, q = _get(s, "primary_lsn"), _get(s, "standby_lsn")
            lag = (p - q) if p is not None and q is not None else None
        if t is not None and lag is not None:
            pts.append((t, float(lag), _get(s, "rows")))
    pts.sort(key=lambda p: p[0])
    fig = _figure(10, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("lag (LSN)")
    if pts:
        t0 = pts[0][0]
        xs = [p[0] - t0 for p in pts]
        ax.plot(xs, [p[1] for p in pts], color="#1565c0", lw=1.5, label="apply lag")
        ax.fill_between(xs, [p[1] for p in pts], color="#1565c0", alpha=0.15)
        peak = max(pts, key=lambda p: p[1])
        ax.annotate(f"max {peak[1]:.0f}", (peak[0] - t0, peak[1]), fontsize=8, color="#0d47a1",
                    textcoords="offset points", xytext=(4, 4))
        rows = [(p[0] - t0, p[2]) for p in pts if p[2] is not None]
        if len(rows) > 1:
            ax2 = ax.twinx()
            rx = [(rows[i][0], (rows[i][1] - rows[i - 1][1]) / max(rows[i][0] - rows[i - 1][0], 1e-9))
                  for i in range(1, len(rows))]
            ax2.plot([r[0] for r in rx], [r[1] for r in rx], color="#2e7d32", lw=1, ls="--",
                     label="load rate")
            ax2.set_ylabel("rows/s", color="#2e7d32")
            ax2.set_ylim(bottom=0)
        ax.set_ylim(bottom=0)
    else:
        ax.text(0.5, 0.5, "no samples", transform=ax.transAxes, ha="center", va="center")
    ax.grid(alpha=0.3)
    return _png(fig)

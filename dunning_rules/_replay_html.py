"""A replay's report as one self-contained HTML page: inline style, an inline SVG chart drawn
here, no script and nothing fetched. Every text from the events or the rules is escaped."""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._replay_text import account_rows, amounts, duration, run_rows, variant_rows
from .rules.functions import format_money

if TYPE_CHECKING:
    from ._replay import ReplayComparison, ReplayReport

__all__ = ["comparison_html", "report_html"]

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1d2330;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}
.muted{color:#5b6475}.cards{display:flex;flex-wrap:wrap;gap:.75rem;margin:1rem 0}
.card{border:1px solid #d8dde6;border-radius:8px;padding:.6rem .9rem;min-width:9rem}
.card b{display:block;font-size:1.35rem}.bad b{color:#b42318}.good b{color:#067647}
table{border-collapse:collapse;margin:.25rem 0 1rem}th,td{padding:.3rem .7rem;text-align:left;
border-bottom:1px solid #e5e8ee;vertical-align:top}td.n,th.n{text-align:right;
font-variant-numeric:tabular-nums}.cols{display:flex;flex-wrap:wrap;gap:2.5rem}
svg text{font-size:11px;fill:#5b6475}code{font-size:12px}ol{margin:.2rem 0;padding-left:1.3rem}
"""

_BAR = "#4f6bed"
_LINE = "#067647"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, body: Iterable[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]], numeric: int = 1) -> str:
    """A table whose columns from ``numeric`` on are numbers (right-aligned)."""

    def cell(tag: str, index: int, value: Any) -> str:
        kind = ' class="n"' if index >= numeric else ""
        return f"<{tag}{kind}>{_e(value)}</{tag}>"

    out = ["<table><thead><tr>", *(cell("th", i, h) for i, h in enumerate(head)), "</tr></thead>"]
    out.append("<tbody>")
    for row in rows:
        out.append("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _card(label: str, value: Any, tone: str = "") -> str:
    kind = f"card {tone}".strip()
    return f'<div class="{kind}"><b>{_e(value)}</b><span class="muted">{_e(label)}</span></div>'


def _main_currency(report: ReplayReport) -> str | None:
    if not report.recovered:
        return None
    return max(sorted(report.recovered), key=lambda c: report.recovered[c])


def _ticks(top: float) -> list[float]:
    """Three or four round values from 0 up to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    step = 1.0
    while top / step > 4:
        for factor in (2, 2.5, 2):
            step *= factor
            if top / step <= 4:
                break
    count = int(-(-top // step))
    return [step * i for i in range(count + 1)]


def _every_day(per_day: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    """The days from the first to the last of ``per_day``, with the days it lacks as zeros."""
    if not per_day:
        return []
    first, last = (_dt.date.fromisoformat(d) for d in (min(per_day), max(per_day)))
    empty: Mapping[str, Any] = {"messages": 0, "recovered": {}, "paid": 0}
    days = []
    while first <= last:
        day = first.isoformat()
        days.append((day, per_day.get(day, empty)))
        first += _dt.timedelta(days=1)
    return days


def chart(report: ReplayReport, width: int = 880, height: int = 260) -> str:
    """Messages per day (bars, left axis) and the recovered amount per day in the main
    currency (line, right axis), as inline SVG."""
    days = _every_day(report.per_day)
    currency = _main_currency(report)
    left, right, top, bottom = 48, 72, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="messages and recoveries per day">'
    ]
    if not days:
        parts.append(f'<text x="{left}" y="{top + 20}">no messages and no recoveries</text></svg>')
        return "".join(parts)
    messages = [day["messages"] for _, day in days]
    money = [day["recovered"].get(currency, 0) if currency else 0 for _, day in days]
    m_ticks, r_ticks = _ticks(max(messages)), _ticks(max(money))
    m_top, r_top = m_ticks[-1] or 1, r_ticks[-1] or 1
    slot = plot_w / len(days)
    bar = max(slot * 0.7, 1.0)
    for tick in m_ticks:
        y = top + plot_h - tick / m_top * plot_h
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e8ee"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{int(tick)}</text>'
        )
    if currency:
        for tick in r_ticks:
            y = top + plot_h - tick / r_top * plot_h
            label = format_money(int(tick), currency)
            parts.append(f'<text x="{left + plot_w + 6}" y="{y + 4:.1f}">{_e(label)}</text>')
    points = []
    every = max(1, len(days) // 10)
    for i, (day, values) in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        h = values["messages"] / m_top * plot_h
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="{_BAR}"><title>{_e(day)}: {values["messages"]} messages</title></rect>'
        )
        cx = left + i * slot + slot / 2
        points.append(f"{cx:.1f},{top + plot_h - money[i] / r_top * plot_h:.1f}")
        if i % every == 0:
            parts.append(
                f'<text x="{cx:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                f"{_e(day[5:])}</text>"
            )
    if currency:
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{_LINE}" stroke-width="2"/>'
        )
    legend_y = height - 6
    parts.append(
        f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="{_BAR}"/>'
        f'<text x="{left + 14}" y="{legend_y}">messages per day</text>'
    )
    if currency:
        parts.append(
            f'<line x1="{left + 150}" x2="{left + 164}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
            f'stroke="{_LINE}" stroke-width="2"/><text x="{left + 168}" y="{legend_y}">'
            f"recovered per day ({_e(currency.upper())})</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _summary(report: ReplayReport) -> list[str]:
    runs = report.runs
    paid = report.paid_without_message
    cards = [
        _card("events", report.events),
        _card("runs started", runs["started"]),
        _card("messages", sum(report.messages.values())),
        _card(
            f"recovered on {report.recovered_invoices} invoices", amounts(report.recovered), "good"
        ),
        _card("median first message to payment", duration(report.median_to_payment)),
        _card(f"paid with no message ({paid['invoices']} invoices)", amounts(paid["amount"])),
        _card("violations", report.violation_count, "bad" if report.violation_count else "good"),
    ]
    return ['<div class="cards">', *cards, "</div>"]


def _sections(report: ReplayReport) -> list[str]:
    out = ["<h2>Messages and recoveries per day</h2>", chart(report)]
    out.append('<div class="cols"><div><h2>Runs</h2>')
    out.append(_table(("runs", "count"), run_rows(report.runs)))
    if report.cancelled_by:
        out.append(_table(("cancelled by", "runs"), report.cancelled_by.items()))
    out.append("</div><div><h2>Rules</h2>")
    out.append(
        _table(
            ("rule", "matched", "runs"),
            [(name, v["matched"], v["runs"]) for name, v in report.rules.items()],
        )
    )
    out.append("</div><div><h2>Channels</h2>")
    out.append(_table(("channel", "messages"), report.messages.items()))
    out.append("</div><div><h2>Events</h2>")
    out.append(_table(("type", "events"), report.by_type.items()))
    out.append("</div></div>")
    for rule, split in report.variants.items():
        head, *rows = variant_rows(split)
        out.append(f"<h2>Variants of {_e(rule)}</h2>")
        out.append(_table(head, rows))
    if report.accounts:
        head, *rows = account_rows(report.accounts)
        out.append("<h2>By connected account</h2>")
        out.append(_table(head, rows))
    if report.failed_steps:
        out.append("<h2>Steps that would have failed</h2>")
        out.append(
            _table(
                ("step", "reason", "count"),
                [(f["type"], f["error"], f["count"]) for f in report.failed_steps],
                numeric=2,
            )
        )
    out.append("<h2>Violations</h2>")
    if report.violation_count:
        out.append(
            _table(
                ("invoice", "customer", "what", "step", "at"),
                [
                    (
                        v["invoice"],
                        v["customer"] or "",
                        "sent twice" if v["kind"] == "twice" else "sent after the payment",
                        f"{v['type']} (rule {v['rule']}, step {v['step']})",
                        v["at"],
                    )
                    for v in report.violations
                ],
                numeric=9,
            )
        )
    else:
        out.append("<p>None: no message went out twice for a step, none after a payment.</p>")
    return out


def _heading(report: ReplayReport, title: str) -> list[str]:
    note = f"{report.start or '-'} to {report.end or '-'}; approvals {report.approvals}"
    if report.hostile is not None:
        h = report.hostile
        note += (
            f"; hostile delivery, seed {h['seed']}: {h['duplicates']} sent twice, "
            f"{h['late']} late, {h['reordered']} out of order"
        )
    if report.skipped:
        note += "; skipped " + ", ".join(f"{c} {r}" for r, c in report.skipped.items())
    return [f"<h1>{_e(title)}</h1>", f'<p class="muted">{_e(note)}</p>']


def report_html(report: ReplayReport) -> str:
    return _page(
        "dunning-rules replay",
        [*_heading(report, "Replay"), *_summary(report), *_sections(report)],
    )


def _side_by_side(comparison: ReplayComparison) -> str:
    before, after = comparison.before, comparison.after
    rows: list[tuple[Any, ...]] = [("events", before.events, after.events)]
    for name in ("started", "completed", "cancelled", "failed", "waiting", "awaiting_approval"):
        rows.append((f"runs {name}", before.runs[name], after.runs[name]))
    for channel in sorted(set(before.messages) | set(after.messages)):
        rows.append(
            (f"messages {channel}", before.messages.get(channel, 0), after.messages.get(channel, 0))
        )
    rows.append(("recovered", amounts(before.recovered), amounts(after.recovered)))
    rows.append(("recovered invoices", before.recovered_invoices, after.recovered_invoices))
    rows.append(("violations", before.violation_count, after.violation_count))
    return _table(("", "before", "after"), rows)


def _steps(steps: Sequence[str]) -> str:
    if not steps:
        return "<em>nothing</em>"
    return "<ol>" + "".join(f"<li><code>{_e(s)}</code></li>" for s in steps) + "</ol>"


def comparison_html(comparison: ReplayComparison) -> str:
    body = [
        *_heading(comparison.before, "Replay: two rule sets compared"),
        '<div class="cards">',
        _card(
            "invoices with other messages",
            comparison.different,
            "bad" if comparison.different else "good",
        ),
        _card("invoices messaged in either", comparison.compared),
        "</div>",
        "<h2>Side by side</h2>",
        _side_by_side(comparison),
        "<h2>Invoices that would get other messages</h2>",
    ]
    if comparison.differences:
        rows = [
            "<table><thead><tr><th>invoice</th><th>customer</th><th>before</th><th>after</th>"
            "</tr></thead><tbody>"
        ]
        for d in comparison.differences:
            rows.append(
                f"<tr><td><code>{_e(d.invoice)}</code></td><td>{_e(d.customer or '')}</td>"
                f"<td>{_steps(d.before)}</td><td>{_steps(d.after)}</td></tr>"
            )
        rows.append("</tbody></table>")
        body.append("".join(rows))
        more = comparison.different - len(comparison.differences)
        if more > 0:
            body.append(f'<p class="muted">... and {more} more.</p>')
    else:
        body.append("<p>None: both rule sets send the same messages at the same times.</p>")
    for label, report in (("Before", comparison.before), ("After", comparison.after)):
        body += [f"<h2>{label}: messages and recoveries per day</h2>", chart(report)]
        body += _summary(report)
    return _page("dunning-rules replay: compare", body)

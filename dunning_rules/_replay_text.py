"""A replay's report as text: a few small tables a person reads in a minute."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._cli_common import format_seconds, plural
from .rules.functions import format_money

if TYPE_CHECKING:
    from ._replay import ReplayComparison, ReplayReport

__all__ = ["amounts", "comparison_text", "duration", "report_text"]


def amounts(by_currency: Mapping[str, int]) -> str:
    """``{"usd": 125000, "eur": 900}`` as ``$1,250.00 + €9.00``; nothing as ``0``."""
    if not by_currency:
        return "0"
    return " + ".join(format_money(amount, currency) for currency, amount in by_currency.items())


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    return format_seconds(seconds)


def _table(rows: Sequence[Sequence[Any]], indent: str = "  ", left: int = 1) -> list[str]:
    """Rows as aligned columns: the first ``left`` ones text, the others numbers."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = []
    for row in cells:
        parts = [
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append((indent + "  ".join(parts)).rstrip())
    return lines


def report_text(report: ReplayReport) -> str:
    lines = [
        f"replayed {report.events} events from {report.start or '-'} to {report.end or '-'}"
        + (f" ({report.duplicates} duplicate deliveries)" if report.duplicates else ""),
    ]
    if report.skipped:
        skipped = ", ".join(f"{count} {reason}" for reason, count in report.skipped.items())
        lines.append(f"skipped: {skipped}")
    if report.hostile is not None:
        h = report.hostile
        lines.append(
            f"hostile delivery (seed {h['seed']}): {h['duplicates']} sent twice, "
            f"{h['late']} late, {h['reordered']} out of order"
        )
    lines += ["", "runs"]
    lines += _table(run_rows(report.runs))
    if report.cancelled_by:
        lines.append(
            "  cancelled by: "
            + ", ".join(f"{why} {count}" for why, count in report.cancelled_by.items())
        )
    lines += ["", "rules"]
    lines += _table(
        [("rule", "matched", "runs")]
        + [(name, v["matched"], v["runs"]) for name, v in report.rules.items()]
    )
    lines += ["", "messages"]
    if report.messages:
        lines += _table([("channel", "sent"), *report.messages.items()])
    else:
        lines.append("  none")
    paid = report.paid_without_message
    lines += [
        "",
        f"recovered: {amounts(report.recovered)} on {plural(report.recovered_invoices, 'invoice')}"
        " paid after a run started",
        f"median time from the first message to payment: {duration(report.median_to_payment)}",
        f"paid with no message at all (Stripe's own retries): {amounts(paid['amount'])} on "
        f"{plural(paid['invoices'], 'invoice')}",
    ]
    lines += _variant_lines(report.variants)
    lines += _account_lines(report.accounts)
    if report.failed_steps:
        lines += ["", "steps that would have failed"]
        lines += _table(
            [("step", "reason", "count")]
            + [(f["type"], f["error"], f["count"]) for f in report.failed_steps[:10]],
            left=2,
        )
        if len(report.failed_steps) > 10:
            lines.append(f"  ... and {len(report.failed_steps) - 10} more reasons")
    lines.append("")
    if report.violation_count:
        lines.append(f"VIOLATIONS: {report.violation_count}")
        for v in report.violations[:10]:
            what = "sent twice" if v["kind"] == "twice" else "sent after the payment"
            lines.append(
                f"  {v['invoice']}: {v['type']} (rule {v['rule']}, step {v['step']}) "
                f"{what}, at {v['at']}"
            )
    else:
        lines.append("violations: none")
    return "\n".join(lines) + "\n"


def _points(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}"


def run_rows(runs: Mapping[str, int]) -> list[tuple[str, int]]:
    """How the runs ended, as table rows (the text and HTML reports both)."""
    return [
        ("started", runs["started"]),
        ("completed", runs["completed"]),
        ("cancelled", runs["cancelled"]),
        ("failed", runs["failed"]),
        ("still waiting", runs["waiting"]),
        ("awaiting approval", runs["awaiting_approval"]),
    ]


def variant_rows(split: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """One rule's variants as table rows, a header first (the text and HTML reports both)."""
    rows: list[tuple[Any, ...]] = [("variant", "runs", "recovered", "rate", "uplift", "95%")]
    for name, arm in split["variants"].items():
        rate = "-" if arm["rate"] is None else f"{100 * arm['rate']:.1f}%"
        interval = "-" if arm["low"] is None else f"{_points(arm['low'])} to {_points(arm['high'])}"
        label = f"{name} (holdout)" if arm["holdout"] else name
        uplift = "baseline" if arm["holdout"] else _points(arm["uplift"])
        rows.append((label, arm["runs"], arm["recovered"], rate, uplift, interval))
    return rows


def account_rows(accounts: Mapping[str, Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """The per-account split as table rows, a header first."""
    rows: list[tuple[Any, ...]] = [("account", "runs", "recovered", "amount")]
    for account, figures in accounts.items():
        rows.append((account, figures["runs"], figures["recovered"], amounts(figures["amount"])))
    return rows


def _variant_lines(variants: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Per rule with variants: runs, recovered, rate and the uplift over the holdout."""
    lines: list[str] = []
    for rule, split in variants.items():
        lines += ["", f"variants of {rule}"]
        lines += _table(variant_rows(split))
        if split["holdout"] is not None:
            lines.append("  uplift: recovery rate over the holdout's, in percentage points")
    return lines


def _account_lines(accounts: Mapping[str, Mapping[str, Any]]) -> list[str]:
    if not accounts:
        return []
    return ["", "by connected account", *_table(account_rows(accounts))]


def comparison_text(comparison: ReplayComparison) -> str:
    before, after = comparison.before, comparison.after
    lines = ["compare: before / after"]
    rows: list[tuple[Any, ...]] = [("", "before", "after")]
    for name in ("started", "completed", "cancelled", "failed", "waiting", "awaiting_approval"):
        rows.append((f"runs {name}", before.runs[name], after.runs[name]))
    for channel in sorted(set(before.messages) | set(after.messages)):
        rows.append(
            (f"messages {channel}", before.messages.get(channel, 0), after.messages.get(channel, 0))
        )
    rows.append(("recovered", amounts(before.recovered), amounts(after.recovered)))
    rows.append(("violations", before.violation_count, after.violation_count))
    lines += _table(rows)
    lines += [
        "",
        f"{comparison.different} of {plural(comparison.compared, 'invoice')} would get other "
        "messages",
    ]
    for d in comparison.differences:
        lines.append(f"  {d.invoice} (customer {d.customer or '-'})")
        lines.append("    before: " + ("; ".join(d.before) or "nothing"))
        lines.append("    after:  " + ("; ".join(d.after) or "nothing"))
    if comparison.different > len(comparison.differences):
        lines.append(f"  ... and {comparison.different - len(comparison.differences)} more")
    return "\n".join(lines) + "\n"

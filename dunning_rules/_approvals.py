"""Answering approvals: which answer a run's pending approval takes, and why the others do not.

An approval is named by its step index and a nonce (see
:func:`dunning_rules.actions.base.approval_nonce`); an answer to any other approval, or after
the approval's deadline, changes nothing, and the error says why.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .errors import ApprovalNotPendingError
from .outcome import Run

__all__ = ["answer_step", "not_pending", "refusal"]


def answer_step(run: Run, approval: Mapping[str, Any], answer: Mapping[str, Any]) -> Run:
    """``run`` with ``answer`` kept on the record of the approval step it answers."""
    index = approval.get("step")
    record = run.record(index) if isinstance(index, int) else None
    if record is None:
        return run
    answered = replace(record, output={**(record.output or {}), **answer})
    steps = tuple(answered if s.index == index else s for s in run.steps)
    return replace(run, steps=steps)


def refusal(
    run: Run, approval: Mapping[str, Any], step: int | None, nonce: str | None, now: _dt.datetime
) -> str | None:
    """Why an answer naming ``step``/``nonce`` at ``now`` does not answer the pending approval."""
    pending = approval.get("step")
    if step is not None and pending is not None and step != pending:
        return f"the answer is for the approval at step {step}; the run waits for step {pending}"
    if nonce is not None and approval.get("nonce") not in (None, nonce):
        return "the answer does not belong to the approval the run waits for"
    if run.next_at is not None and now >= run.next_at:
        return f"the approval timed out at {run.next_at.isoformat()}"
    return None


def not_pending(run: Run, step: int | None, now: _dt.datetime) -> ApprovalNotPendingError:
    """The error for an answer to ``run``, which no approval of is pending now."""
    approval = run.approval or {}
    index = step if step is not None else approval.get("step")
    record = run.record(index) if isinstance(index, int) else None
    answer = (record.output if record is not None else None) or approval
    if answer.get("timed_out"):
        reason = f"the approval timed out (at {answer.get('answered_at')})"
    elif "approved" in answer:
        verdict = "approved" if answer.get("approved") else "rejected"
        reason = f"the approval was already {verdict} by {answer.get('by') or 'someone'}"
        reason += f" at {answer.get('answered_at')}"
    elif run.status == "awaiting_approval":
        reason = "another worker is working on the run right now; try again"
    else:
        reason = f"the run is {run.status}"
        if run.reason:
            reason += f" ({run.reason})"
    return ApprovalNotPendingError(
        f"run {run.id}: {reason}; nothing done", run_id=run.id, reason=reason
    )

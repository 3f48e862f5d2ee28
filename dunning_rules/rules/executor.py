"""Doing: carry a run forward through its steps, saving each step's record before the next.

:meth:`Executor.advance` runs steps from the run's cursor until the run pauses (``wait``,
``approval``, a retry's backoff) or ends. Nothing sleeps: a pause saves the run with a
``next_at`` and returns; ``Engine.run_due`` or ``Engine.resume`` carries it on later.

Waits are anchored at ``due_at``, the time the run fell due, not at the time a worker got to
it: a run resumed late still sends its next message on schedule, and a wait that is already
over is passed through at once.

Immediately before each adapter call the executor asks its :class:`Lease` to start the step:
the store confirms that the run is still live, still this worker's and still at this step
(see :meth:`~dunning_rules.store.RunStore.start_step`). A run that was cancelled, or taken over
by another worker, stops there, and its adapter is never called.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..actions.base import ActionContext, approval_nonce
from ..errors import AdapterError
from ..outcome import ActionRecord, Run, evolve, new_record, positional_factory
from ..store.base import LeaseLostError
from ._delivery import (
    CONTROL_TYPES,
    effective_window,
    localised_params,
    runs_in_variant,
    window_opening,
)
from .expressions import Expression, empty_warning
from .functions import locale_scope
from .model import ActionSpec, Rule, parse_duration
from .planner import Scope

__all__ = ["Advance", "Executor", "Lease", "idempotency_key"]

log = logging.getLogger(__name__)

Save = Callable[[Run, bool], None]
"""``save(run, release)``: persist the run; ``release`` ends this worker's lease."""


class Lease(Protocol):
    """How the executor keeps a run: the engine's view of the store for one run."""

    def save(self, run: Run, release: bool) -> None:
        """Persist the run; ``release`` ends this worker's lease. Raises
        :class:`~dunning_rules.store.base.LeaseLostError` when the run is no longer held."""

    def start(self, run: Run) -> _dt.datetime:
        """Right before the adapter of the step at ``run.cursor`` is called: confirm the run is
        still held and at that step, and keep it held while the step runs; the time the step
        started. Raises :class:`~dunning_rules.store.base.LeaseLostError` when the step must
        not run."""


@functools.lru_cache(maxsize=4096)
def _what(rule: str, index: int, kind: str) -> str:
    """How messages name a step."""
    return f"rule {rule!r} step {index} ({kind})"


_new_context: Callable[..., ActionContext] = positional_factory(ActionContext)
"""``ActionContext`` from every field in order, without the frozen dataclass's __init__."""


def _index(record: ActionRecord) -> int:
    return record.index


def idempotency_key(event_id: str, rule: str, index: int, account: str | None = None) -> str:
    """Stable for one step of one run: built from (event id, rule, step index), and the
    connected account of a Connect event, so that two accounts never share a key."""
    text = f"{event_id}\x1f{rule}\x1f{index}"
    if account:
        text = f"{account}\x1f{text}"
    return f"dr_{hashlib.sha256(text.encode()).hexdigest()[:40]}"


@dataclass(slots=True)
class Advance:
    """What one :meth:`Executor.advance` did: the run as it ends up, and the records made."""

    run: Run
    actions: list[ActionRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unsaved: bool = False
    lost: str | None = None
    """Why the worker stopped holding the run (cancelled meanwhile, taken over), or None."""


class Executor:
    """Runs steps through adapters. Built by :class:`~dunning_rules.Engine`.

    ``clock`` gives the real start and finish times of steps; ``redact`` cleans the text of
    errors that adapters raise before it is stored or logged.
    """

    def __init__(
        self,
        *,
        adapters: Mapping[str, Any],
        stripe_client: Any,
        clock: Callable[[], _dt.datetime],
        redact: Callable[[str], str] = str,
    ) -> None:
        self._adapters = adapters
        self._stripe_client = stripe_client
        self._clock = clock
        self._redact = redact

    def advance(
        self, run: Run, rule: Rule, scope: Scope, *, now: _dt.datetime, lease: Lease
    ) -> Advance:
        result = Advance(run)
        save = lease.save
        try:
            while result.run.status == "waiting":
                if result.run.cursor >= len(rule.actions):
                    self._finish(result, now, save, "completed", None)
                    break
                if result.unsaved:  # the last step's record, saved before the next step starts
                    save(result.run, False)
                    result.unsaved = False
                action = rule.actions[result.run.cursor]
                if not self._step(result, rule, action, scope, now, lease):
                    break
        except LeaseLostError as exc:
            result.lost = str(exc)
            if exc.run is not None:
                result.run = exc.run
            result.unsaved = False
            log.info("stopped working on run %s: %s", run.id, exc)
        return result

    # -- one step ---------------------------------------------------------------------------

    def _step(
        self,
        result: Advance,
        rule: Rule,
        action: ActionSpec,
        scope: Scope,
        now: _dt.datetime,
        lease: Lease,
    ) -> bool:
        """Run one step; True to go on with the next one."""
        save = lease.save
        run = result.run
        what = _what(rule.name, action.index, action.type)
        root = scope.root(run.outputs()) if run.steps else scope.root()
        passed = True
        if action.when is not None:
            passed = scope.test(action.when.expression, root, what)
        if action.type == "guard":
            self._record(result, action, rule, now, status="ok", output={"passed": passed})
            if not passed:
                self._finish(
                    result, now, save, "completed", f"guard step {action.index} ended the run"
                )
                return False
            return True
        if not passed:
            self._record(result, action, rule, now, status="skipped")
            return True
        if (action.variants is not None or rule.split is not None) and not runs_in_variant(
            action.type, action.variants, run.variant, rule.split
        ):
            output = {"variant": run.variant}
            self._record(result, action, rule, now, status="skipped", output=output)
            return True
        if action.type not in CONTROL_TYPES and not self._in_window(
            result, action, scope, root, now, save, what
        ):
            return False
        previous = run.record(action.index) if run.steps else None
        attempt = (previous.attempts if previous is not None else 0) + 1
        tree = action.params
        if tree.lookups is None:  # it may read any lookup: fetch them all first
            scope.need(None)
        adapter = self._adapters.get(action.type)
        empty: list[tuple[str, Expression]] = []
        try:
            locale = None
            if action.localised:
                tree, locale = localised_params(tree, True, scope.preferred_locales)
            with locale_scope(locale):
                params = tree.render(root, getattr(adapter, "escapes", None), empty)
        except Exception as exc:
            return self._failed(result, rule, action, now, save, None, attempt, str(exc), False)
        if empty:
            result.warnings.extend(empty_warning(what, *found) for found in empty)
        if action.type == "wait":
            return self._wait(result, rule, action, params, now, save)
        if adapter is None:  # the engine checks this when it is built; a stored old rule may not
            message = f"no adapter for step type {action.type!r}"
            return self._failed(result, rule, action, now, save, params, attempt, message, False)
        ctx = _new_context(
            *(scope.event, run.id, rule.name, action.id),
            idempotency_key(run.event_id, rule.name, action.index, run.account),
            *(self._stripe_client, now, action.index, action.type, attempt, False, []),
        )
        # The last moment before the side effect: the store confirms the run is still live,
        # still ours and still at this step. A cancel that committed before this stops it.
        started = lease.start(result.run)
        try:
            output = adapter(params, ctx)
        except Exception as exc:
            retryable = exc.retryable if isinstance(exc, AdapterError) else True
            message = str(exc) if isinstance(exc, AdapterError) else f"{type(exc).__name__}: {exc}"
            message = self._redact(message)
            log.info("%s failed (attempt %d): %s", what, attempt, message)
            result.warnings.extend(ctx.warnings)
            return self._failed(
                result, rule, action, now, save, params, attempt, message, retryable, started
            )
        finished = self._clock()
        if output is not None and not isinstance(output, Mapping):
            output = {"value": output}
        result.warnings.extend(ctx.warnings)
        # The last step (an approval pauses instead): its record and the run's end are one copy
        # of the run and one save.
        ends = action.type != "approval" and action.index + 1 >= len(rule.actions)
        self._record(
            result,
            action,
            rule,
            now,
            status="ok",
            params=params,
            attempts=attempt,
            output=dict(output) if output is not None else None,
            warnings=tuple(ctx.warnings),
            started_at=started,
            finished_at=finished,
            ends=ends,
        )
        if ends:
            self._pause(result, save)
            return False
        if action.type == "approval":  # the pause belongs to the step type, whatever adapter
            return self._pause_for_approval(result, action, params, now, save)
        return True

    def _in_window(
        self,
        result: Advance,
        action: ActionSpec,
        scope: Scope,
        root: Mapping[str, Any],
        now: _dt.datetime,
        save: Save,
        what: str,
    ) -> bool:
        """True when the step's send window is open (or it has none); else the run waits,
        saved, until the window's next opening. The wait does not move the anchor of later
        waits (``due_at``): a reminder three days on still falls due three days after the
        first."""
        window = effective_window(action.type, action.send_window, scope.settings)
        if window is None:
            return True
        search = functools.partial(scope.value, root=root, what=what)
        opening, zones = window_opening(window, root, now, search=search)
        if opening <= now:
            if result.run.reason is not None:  # the note of the window it waited for
                result.run = evolve(result.run, reason=None)
            return True
        where = ", ".join(str(zone) for zone in zones)
        reason = (
            f"step {action.index} ({action.type}) waits for its send window "
            f"{window.describe()} ({where}) until {opening.isoformat()}"
        )
        log.info("%s: %s", what, reason)
        self._pause(result, save, next_at=opening, reason=reason, updated_at=now)
        return False

    def _wait(
        self,
        result: Advance,
        rule: Rule,
        action: ActionSpec,
        params: Mapping[str, Any],
        now: _dt.datetime,
        save: Save,
    ) -> bool:
        try:
            duration = parse_duration(params.get("duration", ""))
            due = (result.run.due_at or now) + duration
        except (ValueError, OverflowError) as exc:
            return self._failed(result, rule, action, now, save, dict(params), 1, str(exc), False)
        self._record(
            result,
            action,
            rule,
            now,
            status="ok",
            params=dict(params),
            attempts=1,
            output={"until": due.isoformat()},
            advance_due=due,
        )
        if due <= now:
            return True
        self._pause(result, save, next_at=due)
        return False

    def _pause_for_approval(
        self,
        result: Advance,
        action: ActionSpec,
        params: Mapping[str, Any],
        now: _dt.datetime,
        save: Save,
    ) -> bool:
        timeout = params.get("timeout")
        next_at = None
        if isinstance(timeout, str):
            try:
                next_at = (result.run.due_at or now) + parse_duration(timeout)
            except (ValueError, OverflowError) as exc:
                result.warnings.append(f"approval timeout {timeout!r} ignored: {exc}")
        result.run = evolve(
            result.run,
            status="awaiting_approval",
            next_at=next_at,
            approval={
                "step": action.index,
                "nonce": approval_nonce(result.run.id, action.index),
                "requested_at": now.isoformat(),
                "timeout": timeout,
                "on_timeout": params.get("on_timeout", "cancel"),
                "deadline": next_at.isoformat() if next_at is not None else None,
            },
            updated_at=now,
        )
        self._pause(result, save)
        return False

    def _failed(
        self,
        result: Advance,
        rule: Rule,
        action: ActionSpec,
        now: _dt.datetime,
        save: Save,
        params: Mapping[str, Any] | None,
        attempt: int,
        message: str,
        retryable: bool,
        started: _dt.datetime | None = None,
    ) -> bool:
        retry = action.retry
        finished = self._clock() if started is not None else None
        later = None
        if retry is not None and retryable and attempt < retry.attempts:
            # Retries wait from the failure: a late worker must not hammer the provider.
            try:
                later = now + retry.delay(attempt)
            except OverflowError:
                message += "; no retry: the retry's delay is out of range"
        if later is not None:
            self._record(
                result,
                action,
                rule,
                now,
                status="failed",
                params=params,
                attempts=attempt,
                error=message,
                keep=False,
                started_at=started,
                finished_at=finished,
            )
            self._pause(result, save, next_at=later, due_at=later)
            return False
        self._record(
            result,
            action,
            rule,
            now,
            status="failed",
            params=params,
            attempts=attempt,
            error=message,
            started_at=started,
            finished_at=finished,
        )
        if action.on_error == "continue":
            return True
        reason = f"step {action.index} ({action.type}) failed: {message}"
        self._finish(result, now, save, "failed", reason)
        return False

    # -- records ----------------------------------------------------------------------------

    def _record(
        self,
        result: Advance,
        action: ActionSpec,
        rule: Rule,
        now: _dt.datetime,
        *,
        status: str,
        params: Mapping[str, Any] | None = None,
        output: Mapping[str, Any] | None = None,
        error: str | None = None,
        attempts: int = 0,
        warnings: tuple[str, ...] = (),
        keep: bool = True,
        advance_due: _dt.datetime | None = None,
        started_at: _dt.datetime | None = None,
        finished_at: _dt.datetime | None = None,
        ends: bool = False,
    ) -> ActionRecord:
        """Add a step's record to the run; ``keep`` moves the cursor past the step; ``ends``
        also completes the run (what :meth:`_finish` would do next, in the same copy).

        The record is saved with the run before the next step starts, or with the pause or the
        end that follows it: one write per step.
        """
        record = new_record(
            *(rule.name, action.index, action.id, action.type, status, params, output, error),
            attempts,
            started_at or self._clock(),
            finished_at or started_at or self._clock(),
            warnings,
        )
        run = result.run
        steps = run.steps
        if not steps or steps[-1].index < action.index:  # the usual case: the next step
            steps = (*steps, record)
        else:
            steps = tuple(
                sorted((*(s for s in steps if s.index != action.index), record), key=_index)
            )
        changes: dict[str, Any] = {"steps": steps, "updated_at": now}
        if keep:
            changes["cursor"] = action.index + 1
        if advance_due is not None:
            changes["due_at"] = advance_due
        if ends:
            changes.update(status="completed", next_at=None, reason=None)
        result.run = evolve(run, **changes)
        result.actions.append(record)
        result.unsaved = True
        return record

    @staticmethod
    def _pause(result: Advance, save: Save, **changes: Any) -> None:
        if changes:
            result.run = evolve(result.run, **changes)
        save(result.run, True)
        result.unsaved = False

    def _finish(
        self, result: Advance, now: _dt.datetime, save: Save, status: str, reason: str | None
    ) -> None:
        self._pause(result, save, status=status, next_at=None, reason=reason, updated_at=now)

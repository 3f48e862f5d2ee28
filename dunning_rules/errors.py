"""Exceptions raised by dunning_rules.

Every exception the library raises on purpose derives from one root::

    DunningRulesError
    ├── RuleFileError          (also ValueError)  a rule file, or an engine built on it, is wrong
    ├── EventError             (also ValueError)  the input is not a Stripe event
    ├── SignatureError         (also ValueError)  a webhook failed signature verification
    ├── InteractionError                          a signed request that is not an interaction
    │                                             this library answers (HTTP 200, ignore it)
    ├── RunNotFoundError       (also LookupError) no run has that id (HTTP 404)
    ├── ApprovalNotPendingError                   the answered approval is not pending: answered
    │                                             already, timed out, or the run moved on (409)
    ├── ExpressionError                           an expression failed while it was evaluated
    ├── AdapterError                              a step's adapter failed; ``retryable`` says
    │                                             whether trying again can help
    ├── StoreError                                the run store failed or is inconsistent
    ├── PluginError                               an entry point does not provide an adapter
    └── MissingExtraError      (also ImportError) an optional dependency is not installed

Skipped steps, stopped runs and duplicate events are outcomes, not exceptions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "AdapterError",
    "ApprovalNotPendingError",
    "DunningRulesError",
    "EventError",
    "ExpressionError",
    "InteractionError",
    "Location",
    "MissingExtraError",
    "PluginError",
    "Problem",
    "RuleFileError",
    "RunNotFoundError",
    "SignatureError",
    "StoreError",
]


class DunningRulesError(Exception):
    """The root of every error raised by dunning_rules."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    """A place in a rule file: 1-based line and column."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One problem found in a rule file.

    ``json_path`` is where the problem is in the document (``$.rules[2].when``), ``rule`` the
    name of the rule it belongs to (or None), and ``message`` the text without the location.
    """

    location: Location
    json_path: str
    message: str
    rule: str | None = None

    def __str__(self) -> str:
        where = f"{self.location}: {self.json_path}: "
        if self.rule is not None:
            where += f"rule {self.rule!r}: "
        return where + self.message


class RuleFileError(DunningRulesError, ValueError):
    """A rule file is wrong: YAML syntax, schema, expressions, names or adapters.

    Every problem found is in ``problems``, sorted by place; the attributes ``path``, ``line``,
    ``column``, ``rule``, ``json_path`` and ``location`` describe the first one, and the message
    starts with ``path:line:column:``. ``warnings`` holds what the files would have been loaded
    with (``RuleSet.warnings``: an event type Stripe does not send, a field its object lacks),
    found in the same pass, so that every problem can be shown at once.
    """

    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    def __init__(self, problems: Sequence[Problem], warnings: Sequence[Problem] = ()) -> None:
        if not problems:
            raise ValueError("RuleFileError needs at least one problem")
        self.problems = sorted_by_place(problems)
        self.warnings = sorted_by_place(warnings)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def first(self) -> Problem:
        return self.problems[0]

    @property
    def location(self) -> Location:
        return self.first.location

    @property
    def path(self) -> str:
        return self.first.location.path

    @property
    def line(self) -> int:
        return self.first.location.line

    @property
    def column(self) -> int:
        return self.first.location.column

    @property
    def rule(self) -> str | None:
        return self.first.rule

    @property
    def json_path(self) -> str:
        return self.first.json_path


def sorted_by_place(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    """``problems`` in the order files are read: by path, line, column, then message."""
    return tuple(
        sorted(
            problems,
            key=lambda p: (p.location.path, p.location.line, p.location.column, p.message),
        )
    )


class EventError(DunningRulesError, ValueError):
    """The input is not a Stripe event: a mapping with a string ``id``, a string ``type`` and a
    mapping ``data.object``."""


class SignatureError(DunningRulesError, ValueError):
    """A webhook request failed signature verification (Stripe or Slack)."""


class InteractionError(DunningRulesError):
    """A correctly signed request that is not one this library answers: another button or
    shortcut of the same Slack app, a view submission, an unknown action. An endpoint answers
    it 200 (so Slack does not retry) and ignores it."""


class RunNotFoundError(DunningRulesError, LookupError):
    """No run has the given id (an endpoint answers 404)."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run {run_id!r}")
        self.run_id = run_id


class ApprovalNotPendingError(DunningRulesError):
    """An answer to an approval that is not pending: already answered, past its timeout, not
    the approval the run waits for now, or the run is no longer waiting. Nothing changed;
    ``reason`` says why (an endpoint answers 409, or tells the person who clicked)."""

    def __init__(self, message: str, *, run_id: str, reason: str) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.reason = reason


class ExpressionError(DunningRulesError):
    """An expression raised while it was evaluated (bad types, a failing function)."""

    def __init__(self, message: str, *, expression: str) -> None:
        super().__init__(message)
        self.expression = expression


class AdapterError(DunningRulesError):
    """A step's adapter failed.

    ``retryable`` is true where trying again may help (network errors, HTTP 429 and 5xx) and
    false where it cannot (other 4xx, bad parameters). The engine's ``retry`` policy only
    retries retryable failures. ``status`` is the provider's HTTP status where there was one.
    """

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class StoreError(DunningRulesError):
    """The run store failed, or holds data this version cannot read."""


class PluginError(DunningRulesError):
    """An entry point of the ``dunning_rules.actions`` group does not provide an adapter."""


_REQUIREMENTS = {"psycopg": "psycopg[binary]"}
"""What to install for a package that needs more than its name."""


class MissingExtraError(DunningRulesError, ImportError):
    """An optional dependency is missing; the message names the extra that installs it."""

    def __init__(self, package: str, extra: str, feature: str) -> None:
        requirement = _REQUIREMENTS.get(package, package)
        super().__init__(
            f"{feature} needs {package!r}, which is not installed: pip install '{requirement}'"
            f" (the '{extra}' extra of dunning-rules)"
        )
        self.package = package
        self.extra = extra

"""How a step reaches its recipient: when (its send window), in which language, in which variant.

The loader compiles a step's ``send_window`` with :func:`compile_window`; the executor and the
planner ask :func:`effective_window` which window applies (the step's own, else its type's in
``settings.send_windows``, else the built-in default: ``sms`` 08:00-21:00), and
:func:`window_opening` when the step may run. :func:`preferred_for` reads the customer's
locales; :func:`runs_in_variant` says whether a step runs in a run's variant.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .expressions import Expression, ParamTree, compile_expression
from .locales import localise, preferred_locales
from .variants import Split
from .windows import DEFAULT_WINDOWS, SendWindow, next_opening, parse_window, recipient_zones

if TYPE_CHECKING:
    from .model import Rule, RuleSet

__all__ = [
    "ALWAYS_OPEN",
    "CONTROL_TYPES",
    "RESERVED_SETTINGS",
    "ZONE_FALLBACKS",
    "WindowSpec",
    "compile_window",
    "effective_window",
    "event_account",
    "localised_params",
    "preferred_for",
    "run_variant",
    "runs_in_variant",
    "window_opening",
    "window_types",
]

RESERVED_SETTINGS = ("send_windows", "time_zone", "locale")
"""Settings the engine reads itself: windows per step type, the default time zone of
recipients, and the default locale of customers."""

ZONE_FALLBACKS: tuple[str, ...] = (
    "data.object.customer_address",
    "data.object.customer_shipping",
    "data.object.address",
    "data.object.shipping",
    "data.object.customer",
)
"""Where the recipient's address is looked for when the window names no zone (or its
``time_zone`` finds none): an invoice's customer address and shipping, a customer's own (on
``customer.*`` events), an expanded customer."""

CONTROL_TYPES = frozenset({"wait", "guard"})
"""Step types that run in a holdout: the run keeps its schedule, and sends nothing."""

_WINDOW_KEYS = frozenset({"hours", "days", "time_zone"})


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowSpec:
    """A compiled ``send_window``: the window, and the expression of the recipient's zone."""

    window: SendWindow
    time_zone: Expression | None = None

    @property
    def always(self) -> bool:
        return self.window.periods == ((0, 1440),) and len(self.window.days) == 7

    def describe(self) -> str:
        return self.window.describe()


ALWAYS_OPEN = WindowSpec(window=SendWindow(periods=((0, 1440),)))
"""``send_window: false``: no window, not even the step type's default."""


def compile_window(raw: Any) -> WindowSpec:
    """A rule file's ``send_window``: ``false`` (none), ``'08:00-21:00'`` (hours, every day),
    or ``{hours, days, time_zone}`` (``time_zone`` a bare expression). Raises ValueError, or
    :class:`~dunning_rules.rules.expressions.ExpressionSyntaxError` for ``time_zone``."""
    if raw is False:
        return ALWAYS_OPEN
    if isinstance(raw, str):
        return WindowSpec(window=parse_window(raw))
    if not isinstance(raw, Mapping):
        raise ValueError("send_window is hours ('08:00-21:00'), a mapping with hours, or false")
    unknown = sorted(set(raw) - _WINDOW_KEYS)
    if unknown:
        raise ValueError(
            f"send_window has no key {unknown[0]!r} (it has hours, days and time_zone)"
        )
    if "hours" not in raw:
        raise ValueError("send_window needs hours, like '08:00-21:00'")
    window = parse_window(raw["hours"], raw.get("days"))
    zone = raw.get("time_zone")
    if zone is not None and not isinstance(zone, str):
        raise ValueError("send_window.time_zone is an expression (a string)")
    return WindowSpec(window=window, time_zone=compile_expression(zone) if zone else None)


@functools.lru_cache(maxsize=64)
def _type_windows(text: str) -> Mapping[str, WindowSpec]:
    windows = {kind: WindowSpec(window=window) for kind, window in DEFAULT_WINDOWS.items()}
    for kind, raw in json.loads(text).items():
        windows[kind] = compile_window(raw)
    return windows


_DEFAULT_SPECS = {kind: WindowSpec(window=window) for kind, window in DEFAULT_WINDOWS.items()}
_BY_SETTING: dict[int, tuple[Mapping[str, Any], Mapping[str, WindowSpec] | None]] = {}


def _configured_window(configured: Mapping[str, Any], kind: str) -> WindowSpec | None:
    """The window of ``kind`` in a ``settings.send_windows`` mapping (the same mapping object,
    from the rule set, is compiled once; the entry keeps it, so its id is not reused)."""
    found = _BY_SETTING.get(id(configured))
    if found is None or found[0] is not configured:
        try:
            windows: Mapping[str, WindowSpec] | None = _type_windows(
                json.dumps(configured, sort_keys=True)
            )
        except (ValueError, TypeError):  # the loader reports a bad one; here it is none
            windows = None
        if len(_BY_SETTING) > 256:
            _BY_SETTING.clear()
        found = _BY_SETTING[id(configured)] = (configured, windows)
    windows = found[1]
    if windows is None:
        return _DEFAULT_SPECS.get(kind)
    return windows.get(kind)


def effective_window(
    kind: str, own: WindowSpec | None, settings: Mapping[str, Any]
) -> WindowSpec | None:
    """The window a step of type ``kind`` keeps: its own, else ``settings.send_windows`` for
    its type, else the built-in default; None when it has none (or ``false``)."""
    spec = own
    if spec is None:
        configured = settings.get("send_windows")
        if not configured or not isinstance(configured, Mapping):
            spec = _DEFAULT_SPECS.get(kind)
        else:
            spec = _configured_window(configured, kind)
    if spec is None or spec.always:
        return None
    return spec


def _dig(root: Mapping[str, Any], path: str) -> Any:
    value: Any = root
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def window_opening(
    spec: WindowSpec,
    root: Mapping[str, Any],
    now: _dt.datetime,
    *,
    search: Callable[[Expression], Any],
) -> tuple[_dt.datetime, tuple[_dt.tzinfo, ...]]:
    """When the step may run (``now`` when the window is open) and the recipient's zones.

    The zone comes from the window's ``time_zone`` (``search`` evaluates it: the caller
    fetches lookups and turns errors into warnings), else from the addresses of
    :data:`ZONE_FALLBACKS`, else ``settings.time_zone``, else UTC.
    """
    candidates: list[Any] = []
    if spec.time_zone is not None:
        candidates.append(search(spec.time_zone))
    for path in ZONE_FALLBACKS:  # addresses only: a customer id names no zone
        found = _dig(root, path)
        if isinstance(found, Mapping):
            candidates.append(found)
    settings = root.get("settings")
    default = settings.get("time_zone") if isinstance(settings, Mapping) else None
    zones = recipient_zones(candidates, default)
    return next_opening(spec.window, now, zones), zones


def preferred_for(
    root: Mapping[str, Any], customer_lookups: Sequence[str], need: Callable[[str], Any]
) -> tuple[str, ...]:
    """The customer's preferred locales: the ``preferred_locales`` of the first
    ``stripe.customer`` lookup that has any (``need(name)`` fetches it), else of the event's
    object (``customer.*`` events) or its expanded customer, else ``settings.locale``."""
    sources: list[Any] = []
    for name in customer_lookups:
        value = need(name)
        sources.append(value.get("preferred_locales") if isinstance(value, Mapping) else None)
    sources.append(_dig(root, "data.object.preferred_locales"))
    sources.append(_dig(root, "data.object.customer.preferred_locales"))
    sources.append(_dig(root, "settings.locale"))
    return preferred_locales(*sources)


def runs_in_variant(
    kind: str, only: tuple[str, ...] | None, variant: str | None, split: Split | None
) -> bool:
    """Whether a step of type ``kind`` limited to variants ``only`` (None: any) runs in a
    run of ``variant``: a limited step only in its variants; in the holdout, only the steps
    that name it and the control steps (:data:`CONTROL_TYPES`)."""
    if only is not None:
        return variant in only
    if split is None or variant is None:
        return True
    holdout = split.holdout
    if holdout is not None and variant == holdout.name:
        return kind in CONTROL_TYPES
    return True


def localised_params(
    tree: ParamTree, localised: bool, preferred: Callable[[], tuple[str, ...]]
) -> tuple[ParamTree, str | None]:
    """``tree`` with each text given by locale reduced to the variant for the customer's
    ``preferred()`` locales (asked only when there is one), and the locale picked (None: the
    step gives no text by locale, and money and dates are written as always)."""
    if not localised:
        return tree, None
    compiled, locale = localise(tree.compiled, preferred())
    return replace(tree, compiled=compiled), locale


def event_account(event: Mapping[str, Any]) -> str | None:
    """The connected account an event is for (Stripe Connect's ``account``), or None."""
    account = event.get("account")
    return account if isinstance(account, str) and account else None


def run_variant(rule: Rule, key: str | None, event_id: str) -> str | None:
    """The variant of the run ``rule`` starts for ``key`` (by the event id when the key is
    null: such runs are not correlated anyway); None when the rule has no variants."""
    if rule.split is None:
        return None
    return rule.split.assign(rule.name, key if key is not None else event_id).name


def window_types(rules: RuleSet) -> frozenset[str]:
    """The step types that have a send window of their type, by default or in any settings."""
    types = set(DEFAULT_WINDOWS)
    for settings in (rules.settings, *rules.accounts.values()):
        configured = settings.get("send_windows")
        if isinstance(configured, Mapping):
            types.update(str(kind) for kind in configured)
    return frozenset(types)

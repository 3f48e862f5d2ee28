"""Find the adapter of each step type: the engine's own, the built-ins, then plug-ins.

Built-ins register through the same entry-point group as third-party adapters,
``dunning_rules.actions`` (lookups: ``dunning_rules.lookups``). Only the types a rule set uses
are loaded. A plug-in that fails to import is logged and skipped; an entry point that does not
give a callable is a :class:`~dunning_rules.errors.PluginError` naming it.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ..errors import MissingExtraError, PluginError

__all__ = ["ACTIONS_GROUP", "LOOKUPS_GROUP", "available", "load"]

log = logging.getLogger(__name__)

ACTIONS_GROUP = "dunning_rules.actions"
LOOKUPS_GROUP = "dunning_rules.lookups"
_OURS = "dunning-rules"
# Types the engine runs itself; their entry points exist so that every type is listed.
CONTROL_TYPES = frozenset({"wait", "guard"})


@functools.cache
def _entry_points(group: str) -> dict[str, EntryPoint]:
    """Name -> entry point; a built-in wins over a plug-in of the same name."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=group):
        dist = getattr(point, "dist", None)
        ours = dist is not None and dist.name in (_OURS, "dunning_rules")
        if point.name in found and not ours:
            log.warning("ignoring %s plug-in %r: a built-in has that name", group, point.value)
            continue
        found[point.name] = point
    return found


def available(group: str = ACTIONS_GROUP) -> list[str]:
    """Every registered name in ``group``, sorted."""
    return sorted(_entry_points(group))


def load(name: str, group: str = ACTIONS_GROUP) -> Any | None:
    """The adapter (or lookup) registered as ``name``, built with no arguments; None if none.

    Classes are instantiated; functions are used as they are.
    """
    point = _entry_points(group).get(name)
    if point is None:
        return None
    try:
        target = point.load()
    except MissingExtraError:
        raise
    except Exception as exc:
        log.warning("cannot load %s entry point %r (%s): %s", group, name, point.value, exc)
        return None
    if inspect.isclass(target):
        try:
            target = target()
        except Exception as exc:
            raise PluginError(
                f"entry point {name!r} ({point.value}) of {group}: "
                f"cannot build {target.__name__}(): {exc}"
            ) from exc
    if not callable(target):
        raise PluginError(
            f"entry point {name!r} ({point.value}) of {group} is not callable: "
            "an adapter is a callable (params, ctx) -> dict | None"
        )
    return target


def check_adapter(name: str, adapter: Any, origin: str) -> None:
    """Raise :class:`PluginError` unless ``adapter`` looks like ``(params, ctx) -> ...``."""
    if not callable(adapter):
        raise PluginError(f"adapter {name!r} from {origin} is not callable")
    try:
        signature = inspect.signature(adapter)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(object(), object())
    except TypeError as exc:
        raise PluginError(
            f"adapter {name!r} from {origin} cannot be called as adapter(params, ctx): {exc}"
        ) from exc


def schema_of(adapter: Any) -> Mapping[str, Any] | None:
    schema = getattr(adapter, "params_schema", None)
    return schema if isinstance(schema, Mapping) else None

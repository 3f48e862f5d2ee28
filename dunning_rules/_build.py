"""Building an engine: each step type's adapter and each lookup's function, checked once."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from .actions import registry
from .errors import Location, Problem, RuleFileError
from .rules._schema_errors import missing_keys, unknown_keys
from .rules.model import Rule, RuleSet

__all__ = ["resolve_adapters", "resolve_lookups"]


def resolve_adapters(rules: RuleSet, given: dict[str, Any]) -> dict[str, Any]:
    problems: list[Problem] = []
    resolved: dict[str, Any] = {}
    for name, adapter in given.items():
        registry.check_adapter(name, adapter, "Engine(adapters=...)")
    for rule in rules:
        for action in rule.actions:
            adapter = resolved.get(action.type)
            if adapter is None and action.type not in resolved:
                adapter = given.get(action.type)
                if adapter is None:
                    adapter = registry.load(action.type)
                resolved[action.type] = adapter
            if adapter is None:
                known = sorted(set(registry.available()) | set(given))
                near = difflib.get_close_matches(action.type, known, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                problems.append(
                    Problem(
                        location=action.type_location or action.location,
                        json_path=f"{action.json_path}.type",
                        rule=rule.name,
                        message=f"no adapter for step type {action.type!r}{hint}; "
                        f"known types: {', '.join(known)}",
                    )
                )
                continue
            problems.extend(_check_params(rule, action, adapter))
    if problems:
        raise RuleFileError(problems, rules.warnings)
    return {k: v for k, v in resolved.items() if v is not None}


def resolve_lookups(
    rules: RuleSet, given: dict[str, Callable[..., Any]]
) -> dict[str, Callable[..., Any]]:
    problems = []
    found: dict[str, Callable[..., Any]] = {}
    for spec in rules.lookups.values():
        function = given.get(spec.type) or registry.load(spec.type, registry.LOOKUPS_GROUP)
        if function is None:
            known = sorted(set(registry.available(registry.LOOKUPS_GROUP)) | set(given))
            problems.append(
                Problem(
                    location=spec.location,
                    json_path=f"$.lookups.{spec.name}.type",
                    message=f"no lookup of type {spec.type!r}; known types: {', '.join(known)}",
                )
            )
            continue
        found[spec.type] = function
    if problems:
        raise RuleFileError(problems, rules.warnings)
    return found


def _check_params(rule: Rule, action: Any, adapter: Any) -> list[Problem]:
    schema = registry.schema_of(adapter)
    if schema is None:
        return []
    from jsonschema import Draft202012Validator

    problems = []
    explained: dict[str, str] = getattr(adapter, "param_messages", None) or {}
    for error in Draft202012Validator(schema).iter_errors(dict(action.raw_params)):
        path = list(error.absolute_path)
        top = path[0] if path else None
        location: Location = action.param_locations.get(top, action.location)
        if error.validator == "required":
            missing = missing_keys(error)
            message = f"{action.type} step is missing parameter {', '.join(map(repr, missing))}"
            location = action.location
        elif error.validator == "additionalProperties":
            unknown = unknown_keys(error)
            extra = ", ".join(repr(key) for key, _ in unknown)
            hint = unknown[0][1] if unknown else ""
            message = f"{action.type} step has unknown parameter {extra}{hint}"
            if unknown:
                location = action.param_locations.get(unknown[0][0], action.location)
        elif top in explained and isinstance(error.instance, str) and "{{" in error.instance:
            message = f"{action.type} parameter {top}: {explained[top]}"
        else:
            message = f"{action.type} parameter: {error.message}"
        suffix = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        problems.append(
            Problem(
                location=location,
                json_path=f"{action.json_path}{suffix}",
                rule=rule.name,
                message=message,
            )
        )
    return problems

"""A fast yes for rule files that pass the loader's schema; jsonschema explains the others.

Validating a rule file of a thousand rules with jsonschema takes about half a second: its
validator walks the schema for every value, keyword by keyword. Most files are valid, so
:func:`fast_check` turns the same schema (:func:`~._schema_build.loader_schema`) into nested
Python closures, one per schema, which answer only "valid" or "not sure". The loader runs
jsonschema when the answer is not "valid", so every error message stays jsonschema's.

The closures must never call a file valid that jsonschema refuses. Each keyword is checked as
jsonschema checks it (its Draft 2020-12 type checker: ``integer`` takes ``2.0`` and not
``true``; ``const`` and ``enum`` compare as its ``equal`` does, ``1`` equal to ``1.0`` and not to
``true``), so each answer is exact, which ``oneOf`` needs (one part "not sure" of a value that is
valid would let two parts pass). A keyword the schema uses that is not known here, or a
constant that is not a scalar, makes every answer "not sure"; so does a value nested deeper
than the stack allows.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["fast_check"]

Check = Callable[[Any], bool]

# Keywords that do not constrain the value.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples", "$defs"}
)
_SCALARS = (str, int, float, bool, type(None))


class _Unknown(Exception):
    """The schema uses something the fast check does not know."""


def _never(value: Any) -> bool:
    return False


def _always(value: Any) -> bool:
    return True


def fast_check(schema: Mapping[str, Any]) -> Check:
    """A function that is True only for values valid against ``schema`` (False: not sure)."""
    defs = schema.get("$defs", {})
    compiled: dict[str, Check] = {}

    def resolve(ref: str) -> Check:
        if not ref.startswith("#/$defs/") or ref[len("#/$defs/") :] not in defs:
            raise _Unknown(ref)
        name = ref[len("#/$defs/") :]

        def by_ref(value: Any) -> bool:
            return compiled[name](value)

        return by_ref

    try:
        # Every definition is compiled, each once, so a reference is a dict lookup.
        for name, definition in defs.items():
            compiled[name] = _compile(definition, resolve)
        root = _compile(schema, resolve)
    except (_Unknown, re.error):
        return _never

    def check(value: Any) -> bool:
        try:
            return root(value)
        except RecursionError:  # a value nested deeper than the caller's stack allows
            return False

    return check


def _compile(schema: Any, resolve: Callable[[str], Check]) -> Check:
    if schema is True:
        return _always
    if schema is False:
        return _never
    if not isinstance(schema, Mapping):
        raise _Unknown(schema)
    checks: list[Check] = []
    keys = set(schema) - _ANNOTATIONS
    object_keys = {"properties", "additionalProperties", "required", "propertyNames"}
    object_keys |= {"minProperties"}
    if keys & object_keys:
        checks.append(_object(schema, resolve))
        keys -= object_keys
    for key in sorted(keys):
        checks.append(_keyword(key, schema, resolve))
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda value: first(value) and second(value)
    all_checks = tuple(checks)

    def every(value: Any) -> bool:
        for check in all_checks:  # noqa: SIM110 - a loop: all() would make a generator a call
            if not check(value):
                return False
        return True

    return every


def _keyword(key: str, schema: Mapping[str, Any], resolve: Callable[[str], Check]) -> Check:
    value = schema[key]
    if key == "type":
        return _type(value)
    if key == "$ref":
        return resolve(value)
    if key == "const":
        return _equal_to([value])
    if key == "enum":
        return _equal_to(list(value))
    if key == "pattern":
        search = re.compile(value).search
        return lambda v: not isinstance(v, str) or search(v) is not None
    if key == "minLength":
        return lambda v: not isinstance(v, str) or len(v) >= value
    if key == "maxLength":
        return lambda v: not isinstance(v, str) or len(v) <= value
    if key == "minItems":
        return lambda v: not isinstance(v, list) or len(v) >= value
    if key == "maxItems":
        return lambda v: not isinstance(v, list) or len(v) <= value
    if key in ("minimum", "maximum"):
        return _bound(key, value)
    if key == "items":
        item = _compile(value, resolve)

        def items(v: Any) -> bool:
            if isinstance(v, list):
                for element in v:
                    if not item(element):
                        return False
            return True

        return items
    if key in ("allOf", "anyOf", "oneOf"):
        return _combination(key, [_compile(part, resolve) for part in value])
    if key in ("if", "then", "else"):
        return _conditional(schema, resolve) if key == "if" else _always
    raise _Unknown(key)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": _is_integer,
    "number": _is_number,
}


def _type(wanted: Any) -> Check:
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    if any(name not in _TYPES for name in names):
        raise _Unknown(wanted)
    if len(names) == 1:
        return _TYPES[names[0]]
    chosen = [_TYPES[name] for name in names]
    return lambda v: any(test(v) for test in chosen)


def _scalar_equal(value: Any, choice: Any) -> bool:
    """jsonschema's ``equal`` of a value and a scalar: a string only equals a string, a
    boolean only a boolean, numbers (and null) by ``==``."""
    if value is choice:
        return True
    if isinstance(value, str) or isinstance(choice, str):
        return bool(value == choice)
    if isinstance(value, bool) or isinstance(choice, bool):
        return isinstance(value, bool) and isinstance(choice, bool) and value == choice
    if isinstance(value, (list, dict)):
        return False
    return bool(value == choice)


def _equal_to(choices: list[Any]) -> Check:
    """``const`` / ``enum`` of scalar choices."""
    if not all(type(choice) in _SCALARS for choice in choices):
        raise _Unknown(choices)
    if all(type(choice) is str for choice in choices):
        allowed = frozenset(choices)
        return lambda v: isinstance(v, str) and v in allowed
    return lambda v: any(_scalar_equal(v, choice) for choice in choices)


def _bound(key: str, limit: Any) -> Check:
    if type(limit) not in (int, float):
        raise _Unknown(limit)
    if key == "minimum":
        return lambda v: not _is_number(v) or v >= limit
    return lambda v: not _is_number(v) or v <= limit


def _combination(key: str, parts: list[Check]) -> Check:
    if key == "allOf":
        return lambda v: all(part(v) for part in parts)
    if key == "anyOf":
        return lambda v: any(part(v) for part in parts)

    def exactly_one(value: Any) -> bool:
        found = 0
        for part in parts:
            if part(value):
                found += 1
                if found > 1:
                    return False
        return found == 1

    return exactly_one


def _conditional(schema: Mapping[str, Any], resolve: Callable[[str], Check]) -> Check:
    condition = _compile(schema["if"], resolve)
    then = _compile(schema.get("then", True), resolve)
    otherwise = _compile(schema.get("else", True), resolve)
    return lambda v: then(v) if condition(v) else otherwise(v)


def _object(schema: Mapping[str, Any], resolve: Callable[[str], Check]) -> Check:
    """``properties``, ``additionalProperties``, ``required``, ``propertyNames`` and
    ``minProperties`` in one pass over a mapping (other values pass them)."""
    properties = {
        name: _compile(sub, resolve) for name, sub in schema.get("properties", {}).items()
    }
    extra = schema.get("additionalProperties", True)
    others = None if extra is True else _compile(extra, resolve)
    required = tuple(schema.get("required", ()))
    names = schema.get("propertyNames")
    key_check = _compile(names, resolve) if names is not None else None
    least = schema.get("minProperties", 0)

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        if len(value) < least:
            return False
        for name in required:
            if name not in value:
                return False
        for key, item in value.items():
            if key_check is not None and not key_check(key):
                return False
            test = properties.get(key)
            if test is None:
                if others is not None and not others(item):
                    return False
            elif not test(item):
                return False
        return True

    return check

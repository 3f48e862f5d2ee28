"""The rule-file JSON Schema, built from the code, and the schema the loader validates with.

:func:`generate_schema` adds to the hand-written :data:`~._schema_base.BASE` the event types
stripe-python lists (an ``enum``, with ``*`` patterns allowed beside it) and, for each built-in
step type, its parameters from the adapter's ``params_schema`` (an ``if``/``then`` per type,
so an editor completes them and flags unknown ones). ``schemas/rules.schema.json`` is its
output, and a test keeps the two equal.

The loader is more lenient than an editor: an event type Stripe does not list is a warning
(:mod:`.checks`), not an error, and a step's parameters are checked against the adapter the
engine is built with, which may replace a built-in. :func:`loader_schema` takes those parts
out. :func:`fast_validator` answers first for the loader (:mod:`._schema_fast`, from the same
schema): jsonschema runs only on a file that the fast check does not pass.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from importlib import resources
from importlib.metadata import entry_points
from typing import Any

from ._schema_base import BASE
from ._schema_fast import fast_check

__all__ = [
    "SUPPORTED_VERSIONS",
    "fast_validator",
    "generate_schema",
    "loader_schema",
    "rules_schema",
    "schema_text",
    "validator",
]

SUPPORTED_VERSIONS = (1,)

_OURS = ("dunning-rules", "dunning_rules")
_PARAMS = "params_"
_COMMON = ("type", "id", "when", "on_error", "retry", "send_window", "variant")
_EVENT_TYPE_PATTERN = "^[a-z0-9_.*]+$"
_WILDCARD_PATTERN = r"^[a-z0-9_.]*\*[a-z0-9_.*]*$"


def _builtin_schemas() -> dict[str, Mapping[str, Any]]:
    """``step type -> params_schema`` of the built-in adapters, read without building them."""
    found: dict[str, Mapping[str, Any]] = {}
    for point in entry_points(group="dunning_rules.actions"):
        dist = getattr(point, "dist", None)
        if dist is None or dist.name not in _OURS:
            continue
        schema = getattr(point.load(), "params_schema", None)
        if isinstance(schema, Mapping):
            found[point.name] = schema
    return dict(sorted(found.items()))


def _prefixed(value: Any, defs: Mapping[str, str]) -> Any:
    """``value`` with each ``#/$defs/name`` reference renamed as ``defs`` says, and its
    ``properties`` sorted by name."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str) and item.startswith("#/$defs/"):
                name = item[len("#/$defs/") :]
                out[key] = f"#/$defs/{defs.get(name, name)}"
            elif key == "properties" and isinstance(item, dict):
                # Sorted: an adapter may build its properties from a set, in any order.
                out[key] = {k: _prefixed(v, defs) for k, v in sorted(item.items())}
            else:
                out[key] = _prefixed(item, defs)
        return out
    if isinstance(value, list):
        return [_prefixed(item, defs) for item in value]
    return value


def _params_def(kind: str, schema: Mapping[str, Any], root_defs: dict[str, Any]) -> dict[str, Any]:
    """The ``then`` of one step type: its parameters, the common keys, nothing else."""
    own_defs = schema.get("$defs", {})
    renames = {name: f"{kind}.{name}" for name in own_defs}
    for name, definition in own_defs.items():
        root_defs[renames[name]] = _prefixed(copy.deepcopy(definition), renames)
    properties = _prefixed(copy.deepcopy(dict(schema.get("properties", {}))), renames)
    for key, value in properties.items():  # any text may be given by locale
        if isinstance(value, dict) and value.get("type") == "string":
            properties[key] = {"anyOf": [value, {"$ref": "#/$defs/localised_text"}]}
    for key in _COMMON:
        properties.setdefault(key, True)
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if schema.get("required"):
        out["required"] = list(schema["required"])
    if "additionalProperties" in schema:
        out["additionalProperties"] = _prefixed(
            copy.deepcopy(schema["additionalProperties"]), renames
        )
    return out


def generate_schema() -> dict[str, Any]:
    """The JSON Schema of rule files (version 1), as ``schemas/rules.schema.json`` holds it."""
    from ._stripe_types import event_types

    schema = copy.deepcopy(BASE)
    defs: dict[str, Any] = schema["$defs"]
    defs["event_type"] = {
        "description": defs["event_type"]["description"],
        "anyOf": [
            {"enum": list(event_types())},
            {"type": "string", "pattern": _WILDCARD_PATTERN},
        ],
    }
    action = defs["action"]
    builtins = _builtin_schemas()
    action["properties"]["type"] = {
        "description": action["properties"]["type"]["description"],
        "anyOf": [{"enum": list(builtins)}, {"type": "string", "minLength": 1}],
    }
    for kind, params in builtins.items():
        defs[_PARAMS + kind] = _params_def(kind, params, defs)
        action["allOf"].append(
            {
                "if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
                "then": {"$ref": f"#/$defs/{_PARAMS}{kind}"},
            }
        )
    schema["$defs"] = dict(sorted(defs.items()))
    return schema


def schema_text(schema: Mapping[str, Any]) -> str:
    """The schema as the committed file spells it."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def loader_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema ``load_rules`` validates with: any event type of the right spelling (the
    checks warn about unknown ones), any step parameters (the engine checks them against the
    adapter it is built with), any send window (the loader reads it, and says what is wrong in
    its own words)."""
    lenient = copy.deepcopy(dict(schema))
    defs: dict[str, Any] = lenient.get("$defs", {})
    for name in list(defs):
        if name.startswith(_PARAMS):
            defs[name] = True
    if "event_type" in defs:
        defs["event_type"] = {
            "type": "string",
            "pattern": _EVENT_TYPE_PATTERN,
            "description": defs["event_type"].get("description", ""),
        }
    for name in ("send_window", "localised_text"):  # the loader's own checks say more
        if name in defs:
            defs[name] = True
    action = defs.get("action", {})
    if "type" in action.get("properties", {}):
        action["properties"]["type"] = {"type": "string", "minLength": 1}
    # Each step type's `if type == ...: then its parameters` is `then: true` here: drop them
    # all rather than test a dozen conditions on every step of every file.
    action["allOf"] = [
        part
        for part in action.get("allOf", ())
        if not str(part.get("then", {}).get("$ref", "")).startswith(f"#/$defs/{_PARAMS}")
    ]
    if not action["allOf"]:
        del action["allOf"]
    return lenient


@functools.cache
def rules_schema(version: int = 1) -> dict[str, Any]:
    """The JSON Schema of rule files of ``version``, as shipped inside the package."""
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"unsupported rule file version {version!r}")
    text = resources.files("dunning_rules").joinpath("schemas/rules.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def validator(version: int) -> Any:
    """The validator ``load_rules`` checks files of ``version`` with (see :func:`loader_schema`)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(loader_schema(rules_schema(version)))


@functools.cache
def fast_validator(version: int) -> Any:
    """True for a file that :func:`validator` finds no error in; False: ask it (see
    :mod:`._schema_fast`, built from the same schema)."""
    return fast_check(loader_schema(rules_schema(version)))

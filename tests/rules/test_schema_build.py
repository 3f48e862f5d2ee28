"""The JSON Schema is generated from the code: the committed file is what the code builds,
editors get event types and each step type's parameters, and the loader stays lenient."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

import dunning_rules as dr
from dunning_rules.actions import registry
from dunning_rules.rules._schema_build import generate_schema, loader_schema, schema_text
from dunning_rules.rules._stripe_types import event_types

ROOT = Path(__file__).resolve().parents[2]
CANONICAL = ROOT / "schemas" / "rules.schema.json"


def editor_errors(document: dict) -> list[str]:
    validator = Draft202012Validator(generate_schema())
    return sorted(e.message for e in validator.iter_errors(document))


def one_rule(on: str, action: dict) -> dict:
    return {"version": 1, "rules": [{"name": "r", "on": on, "actions": [action]}]}


def test_the_committed_schema_is_what_the_code_generates():
    """schemas/rules.schema.json is, byte for byte, `dunning-rules schema` of this code
    (regenerate it with `dunning-rules schema > schemas/rules.schema.json`)."""
    assert CANONICAL.read_text(encoding="utf-8") == schema_text(generate_schema())


def test_the_schema_lists_every_event_type_and_allows_patterns():
    """The event types are an enum of stripe-python's list, with `*` patterns beside it."""
    [enum, pattern] = generate_schema()["$defs"]["event_type"]["anyOf"]
    assert enum == {"enum": list(event_types())}
    assert pattern["pattern"] == r"^[a-z0-9_.]*\*[a-z0-9_.*]*$"
    assert editor_errors(one_rule("invoice.*", {"type": "wait", "duration": "1d"})) == []


def test_the_schema_has_the_parameters_of_every_built_in_step_type():
    """Each built-in step type has its parameter definition, completed by the common keys."""
    schema = generate_schema()
    kinds = [k for k in registry.available() if f"params_{k}" in schema["$defs"]]
    assert kinds == registry.available()
    email = schema["$defs"]["params_email"]
    assert email["required"] == ["to", "subject", "text"]
    assert set(email["properties"]) >= {"to", "subject", "text", "type", "id", "when", "retry"}


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (
            {"type": "email", "to": "a@example.com", "subject": "s", "text": "t", "bcc_": "x"},
            "Additional properties are not allowed ('bcc_' was unexpected)",
        ),
        ({"type": "email", "to": "a@example.com", "text": "t"}, "'subject' is a required property"),
    ],
    ids=["unknown-parameter", "missing-parameter"],
)
def test_an_editor_flags_parameters_of_a_built_in_type(action, message):
    """The editor schema refuses an unknown parameter and asks for a required one."""
    assert editor_errors(one_rule("invoice.paid", action)) == [message]


def test_an_editor_flags_an_unknown_event_type_the_loader_only_warns_about():
    """`invoice.payed` fails the editor schema; load_rules accepts it with a warning."""
    document = one_rule("invoice.payed", {"type": "wait", "duration": "1d"})
    assert editor_errors(document) != []
    lenient = Draft202012Validator(loader_schema(generate_schema()))
    assert list(lenient.iter_errors(document)) == []
    text = "version: 1\nrules:\n  - {name: r, on: invoice.payed, actions: [{type: note}]}\n"
    assert [w.message.rsplit(" ", 1)[-1] for w in dr.load_rules(text).warnings] == [
        "[unknown-event-type]"
    ]


def test_the_loader_accepts_the_parameters_of_a_replaced_adapter():
    """A step type's parameters are the engine's to check: load_rules accepts any."""
    text = (
        "version: 1\nrules:\n  - name: r\n    on: invoice.paid\n"
        "    actions: [{type: email, template_id: welcome}]\n"
    )
    assert dr.load_rules(text).rules[0].actions[0].raw_params == {"template_id": "welcome"}

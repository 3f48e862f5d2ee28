"""The rule-file JSON Schema: one canonical file, an identical shipped copy, valid, and every
example valid against it."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.yaml12 import load_yaml

ROOT = Path(__file__).resolve().parents[1]
CANONICAL = ROOT / "schemas" / "rules.schema.json"
SHIPPED = ROOT / "dunning_rules" / "schemas" / "rules.schema.json"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def schema() -> dict:
    return json.loads(CANONICAL.read_text(encoding="utf-8"))


def test_shipped_copy_is_byte_identical():
    """dunning_rules/schemas/rules.schema.json is the same bytes as schemas/rules.schema.json."""
    assert SHIPPED.read_bytes() == CANONICAL.read_bytes()


def test_package_resource_is_the_schema():
    """The schema read through importlib.resources is the canonical one."""
    text = resources.files("dunning_rules").joinpath("schemas/rules.schema.json").read_text("utf-8")
    assert json.loads(text) == schema()


def test_schema_is_valid_draft_2020_12():
    """The schema declares draft 2020-12 and is valid under its metaschema."""
    data = schema()
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(data)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_validates_against_the_schema(path):
    """Every examples/*.yaml, read with YAML 1.2 booleans, is valid against the schema."""
    document = load_yaml(path)
    errors = [e.message for e in Draft202012Validator(schema()).iter_errors(document)]
    assert errors == []


def test_schema_rejects_a_rule_without_name():
    """The schema is not vacuous: a rule without a name is invalid."""
    document = {"version": 1, "rules": [{"on": "invoice.paid", "actions": [{"type": "x"}]}]}
    errors = [e.message for e in Draft202012Validator(schema()).iter_errors(document)]
    assert errors == ["'name' is a required property"]

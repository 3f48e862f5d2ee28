"""Every rule-file snippet in the docs loads, builds an engine with the built-in adapters and
simulates a failed-payment event; every Python snippet at least compiles."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import dunning_rules as dr
from tests.paths import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(language: str) -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        text = path.read_text()
        for match in FENCE.finditer(text):
            if match.group(1) == language:
                line = text.count("\n", 0, match.start()) + 1
                found.append((f"{path.name}:{line}", match.group(2)))
    return found


RULE_FILES = [(where, text) for where, text in blocks("yaml") if "rules:" in text]


@pytest.mark.parametrize(("where", "text"), RULE_FILES, ids=[w for w, _ in RULE_FILES])
def test_rule_file_snippets_load_and_simulate(where, text):
    """A documented rule file is valid, its step types exist, and it simulates."""
    text = text if text.startswith("version") or "\nversion:" in text else "version: 1\n" + text
    engine = dr.Engine(dr.load_rules(text))
    event = json.loads((FIXTURES / "stripe" / "events" / "invoice.payment_failed.json").read_text())
    outcome = engine.simulate(event)
    assert outcome.event_id == event["id"]


PYTHON = blocks("python")


@pytest.mark.parametrize(("where", "text"), PYTHON, ids=[w for w, _ in PYTHON])
def test_python_snippets_compile(where, text):
    """A documented Python snippet is valid Python."""
    compile(text, where, "exec")


def test_the_docs_have_snippets():
    """The collection above found the snippets (a broken pattern would test nothing)."""
    assert len(RULE_FILES) >= 10
    assert len(PYTHON) >= 5

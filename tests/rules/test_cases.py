"""The data-driven cases of tests/cases/*.yaml, like jmespath's compliance files.

Each file is a list of cases::

    - description: what the case shows
      rules: <rule file text, or a mapping dumped to YAML>
      event: <a file name in fixtures/stripe/events, an inline event, or
              {fixture: <file name>, object: {<keys replaced in data.object>}}>
      now: <ISO time of the engine's clock; default 2026-01-01T00:00:00+00:00>
      expect:
        matched: [rule names in evaluation order]
        runs: [{rule, key, status, next_at}]         # each key given is compared
        steps: [{rule, type, status, params, ...}]   # every record, in order
        warnings_contain: [texts that some warning contains]   # no warnings when absent
    - description: ...
      rules: ...
      expect: {error: <the exact RuleFileError text>}

The case files are read with YAML 1.2 booleans (``on:`` stays a key), as rule files are.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import dunning_rules as dr
from dunning_rules.testing import FixedClock, RecordingAdapter
from tests.yaml12 import load_yaml

CASES_DIR = Path(__file__).resolve().parents[1] / "cases"
DEFAULT_NOW = "2026-01-01T00:00:00+00:00"
CASE_KEYS = {"description", "rules", "event", "now", "expect"}
EXPECT_KEYS = {"matched", "runs", "steps", "warnings_contain", "error"}


def _load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        cases = load_yaml(path)
        assert isinstance(cases, list), f"{path.name} is not a list of cases"
        for index, case in enumerate(cases):
            case_id = f"{path.name}:{index}:{case.get('description', '?')}"
            params.append(pytest.param(case, id=case_id))
    return params


CASES = _load_cases()


def _rules_text(rules: Any) -> str:
    if isinstance(rules, str):
        return rules
    return yaml.safe_dump(rules, sort_keys=False, allow_unicode=True)


def _event(spec: Any, fixtures_dir: Path) -> Any:
    def fixture(name: str) -> Any:
        path = fixtures_dir / "stripe" / "events" / name
        return json.loads(path.read_text(encoding="utf-8"))

    if isinstance(spec, str):
        return fixture(spec)
    if isinstance(spec, dict) and "fixture" in spec:
        event = fixture(spec["fixture"])
        event["data"]["object"].update(copy.deepcopy(spec.get("object", {})))
        for key, value in spec.get("envelope", {}).items():
            event[key] = value
        return event
    return copy.deepcopy(spec)


def _record(record: dr.ActionRecord, keys: Any) -> dict[str, Any]:
    data = {
        "rule": record.rule,
        "index": record.index,
        "id": record.id,
        "type": record.type,
        "status": record.status,
        "params": record.params,
        "error": record.error,
    }
    return {k: data[k] for k in keys}


def _run(run: dr.Run, keys: Any) -> dict[str, Any]:
    data = {
        "rule": run.rule,
        "key": run.key,
        "status": run.status,
        "next_at": run.next_at.isoformat() if run.next_at else None,
    }
    return {k: data[k] for k in keys}


def test_there_are_enough_cases():
    """The case files hold at least 40 cases."""
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES)
def test_case(case, fixtures_dir):
    """The rule file of the case loads and plans the event as the case expects, or fails with
    exactly the expected RuleFileError text."""
    assert set(case) <= CASE_KEYS, f"unknown case keys: {set(case) - CASE_KEYS}"
    expect = case["expect"]
    assert set(expect) <= EXPECT_KEYS, f"unknown expect keys: {set(expect) - EXPECT_KEYS}"
    text = _rules_text(case["rules"])

    if "error" in expect:
        with pytest.raises(dr.RuleFileError) as caught:
            dr.load_rules(text)
        assert str(caught.value) == expect["error"]
        return

    rules = dr.load_rules(text)
    types = {action.type for rule in rules for action in rule.actions}
    adapters = {kind: RecordingAdapter() for kind in types}
    clock = FixedClock(dt.datetime.fromisoformat(case.get("now", DEFAULT_NOW)))
    engine = dr.Engine(rules, adapters=adapters, clock=clock)
    outcome = engine.simulate(_event(case["event"], fixtures_dir))

    assert list(outcome.matched) == expect.get("matched", [])
    if "runs" in expect:
        runs = [_run(r, e.keys()) for r, e in zip(outcome.runs, expect["runs"], strict=False)]
        assert runs == expect["runs"]
        assert len(outcome.runs) == len(expect["runs"])
    if "steps" in expect:
        steps = [
            _record(a, e.keys()) for a, e in zip(outcome.actions, expect["steps"], strict=False)
        ]
        assert steps == expect["steps"]
        assert len(outcome.actions) == len(expect["steps"])
    wanted = expect.get("warnings_contain", [])
    for text_part in wanted:
        assert any(text_part in w for w in outcome.warnings), (text_part, outcome.warnings)
    if not wanted:
        assert outcome.warnings == ()
    assert all(a.status in ("planned", "skipped", "failed") for a in outcome.actions)
    assert not any(adapter.calls for adapter in adapters.values())

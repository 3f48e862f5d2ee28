"""The bounds of ``dunning_rules.rules.limits``: no rule file exhausts the machine.

Each attack on the loader runs in a child process with 512 MB of address space and a CPU-time
bound, so that a regression fails the test instead of hanging the suite or the machine: the
children start together (one module fixture) and each test reads its own child's report. The
other tests are in process: each bound's exact error text and place, durations, and headroom
for a caller that is already deep in its stack.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import dunning_rules as dr
from dunning_rules.rules import _compiler
from dunning_rules.rules.limits import (
    MAX_ALIASES,
    MAX_CONDITION_DEPTH,
    MAX_DURATION,
    MAX_EXPRESSION_DEPTH,
    MAX_EXPRESSION_LENGTH,
    MAX_FILE_BYTES,
    MAX_YAML_DEPTH,
)
from dunning_rules.rules.model import RetryPolicy, parse_duration
from dunning_rules.testing import FixedClock, RecordingAdapter

ADDRESS_SPACE = 512 * 1024 * 1024
WALL_TIMEOUT = 120.0  # seconds for all children together; each is bounded by CPU time too

# The child: limit memory and CPU time, then for each job load the file and simulate the
# events; report each job as JSON, with the CPU time its load and simulation took.
CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    resource.setrlimit(resource.RLIMIT_CPU, ({cpu}, {cpu}))
    import dunning_rules as dr
    from dunning_rules.testing import RecordingAdapter
    reports = []
    for path, events in json.load(open(sys.argv[1])):
        start = time.process_time()
        report = {{"path": path}}
        try:
            rules = dr.load_rules(path)
        except dr.RuleFileError as exc:
            report["error"] = str(exc)
        else:
            engine = dr.Engine(rules, adapters={{"note": RecordingAdapter()}})
            report["matched"] = []
            report["warnings"] = []
            for event in events:
                outcome = engine.simulate(event)
                report["matched"].append(list(outcome.matched))
                report["warnings"].extend(outcome.warnings)
        report["seconds"] = time.process_time() - start
        reports.append(report)
    print(json.dumps(reports))
    """
)
# Attacks that take a second or more run in children of their own, the rest in one child.
OWN_CHILD = ("any of 10,000 conditions", "all of 2,000 conditions", "2,000 bad expressions")
# Attacks on the YAML reader, run on the pure-Python path too (DUNNING_RULES_YAML=python, a
# child of its own), with the bound of CPU seconds each is held to: the same refusal, as soon.
YAML_ATTACKS = {
    "alias bomb": 1.0,
    "merge-key bomb": 1.0,
    "recursive alias": 1.0,
    "too many aliases": 2.0,
    "a million brackets of YAML": 2.0,
    "long base 60 integer": 1.5,
    "32 KB dotted path": 1.0,
}
PURE_PYTHON = " (pure Python)"


def event(**fields: Any) -> dict[str, Any]:
    return {
        "id": "evt_1",
        "type": "invoice.payment_failed",
        "data": {"object": {"id": "in_1", **fields}},
    }


def rule_file(when: str, *, extra: str = "") -> str:
    return (
        f"version: 1\n{extra}rules:\n  - name: r\n    on: invoice.payment_failed\n"
        f"    when: {when}\n    actions: [{{type: note}}]\n"
    )


def flat_list(word: str, conditions: list[str]) -> str:
    items = "".join(f"        - {c}\n" for c in conditions)
    return (
        "version: 1\nrules:\n  - name: r\n    on: invoice.payment_failed\n"
        f"    when:\n      {word}:\n{items}    actions: [{{type: note}}]\n"
    )


def alias_bomb() -> str:
    """The classic: nine levels of nine aliases each, 9**9 strings from 391 bytes."""
    lines = [
        "version: 1",
        "rules: []",
        "settings:",
        '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"  {name}: &{name} [{','.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines) + "\n"


def merge_bomb() -> str:
    """The same growth through merge keys: each level merges nine copies of the last."""
    lines = ["version: 1", "rules: []", "settings:", "  a0: &a0 {k0: x, k1: x, k2: x}"]
    for level in range(1, 10):
        sources = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"  a{level}: &a{level} {{<<: [{sources}], own{level}: x}}")
    return "\n".join(lines) + "\n"


# name -> (the file's text, the events to simulate)
ATTACKS: dict[str, tuple[Callable[[], str], list[dict[str, Any]]]] = {
    "alias bomb": (alias_bomb, []),
    "merge-key bomb": (merge_bomb, []),
    "recursive alias": (lambda: "version: 1\nrules: []\nsettings: &s {a: *s}\n", []),
    "too many aliases": (
        lambda: (
            "version: 1\nrules: []\nsettings:\n  a: &a x\n  b: ["
            + ", ".join(["*a"] * (MAX_ALIASES + 1))
            + "]\n"
        ),
        [],
    ),
    "32 KB dotted path": (lambda: rule_file(".".join(["a"] * 16_000)), []),
    "dotted path at the bound": (
        lambda: rule_file("data.object." + ".".join(["a"] * ((MAX_EXPRESSION_LENGTH - 12) // 2))),
        [event(a={"a": 1})],
    ),
    "any of 10,000 conditions": (
        lambda: flat_list("any", [f"data.object.amount_due == `{i}`" for i in range(10_000)]),
        [event(amount_due=9_999), event(amount_due=10_000)],
    ),
    "all of 2,000 conditions": (
        lambda: flat_list("all", [f"data.object.amount_due != `{i}`" for i in range(2_000)]),
        [event(amount_due=2_000), event(amount_due=1_000)],
    ),
    "|| chain at the bound": (
        lambda: rule_file('"' + " || ".join(["data.object.x"] * 500) + ' || data.object.paid"'),
        [event(paid=True), event(paid=False)],
    ),
    "pipe chain at the bound": (
        lambda: rule_file('"data' + " | @" * 2_400 + ' | object.paid"'),
        [event(paid=True), event(paid=False)],
    ),
    "a million brackets of YAML": (lambda: "version: 1\nrules: " + "[" * 1_000_000 + "\n", []),
    "5,000 nested parentheses": (lambda: rule_file("(" * 4_990 + "a" + ")" * 4_990), []),
    "9,000 negations": (lambda: rule_file("'" + "!" * 9_000 + "a'"), []),
    "3,000 projections": (lambda: rule_file("a" + "[*]" * 3_000), []),
    "deep JSON literal": (lambda: rule_file("'`" + "[" * 4_000 + "]" * 4_000 + "`'"), []),
    "11 MB file": (lambda: "version: 1\nrules: []\n" + "#" * 11_000_000 + "\n", []),
    "long base 60 integer": (
        lambda: "version: 1\nrules: []\nsettings: {a: 1" + ":00" * 200_000 + "}\n",
        [],
    ),
    "unclosed placeholders": (
        lambda: (
            "version: 1\nrules:\n  - name: r\n    on: invoice.payment_failed\n"
            "    actions: [{type: wait, duration: '" + "{" * 200_000 + "'}]\n"
        ),
        [],
    ),
    "2,000 bad expressions": (
        lambda: flat_list("any", ["'a.[' #" + "-" * 500] * 2_000),
        [],
    ),
}


@pytest.fixture(scope="module")
def attacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each attack's report from a child process; the children run at the same time."""
    folder = tmp_path_factory.mktemp("attacks")
    groups: dict[str, list[str]] = {}
    jobs: dict[str, list[tuple[str, list[dict[str, Any]]]]] = {}
    for index, (name, (make, events)) in enumerate(ATTACKS.items()):
        path = folder / f"attack{index}.yaml"
        path.write_text(make(), encoding="utf-8")
        group = name if name in OWN_CHILD else "the others"
        groups.setdefault(group, []).append(name)
        jobs.setdefault(group, []).append((str(path), events))
        if name in YAML_ATTACKS:
            groups.setdefault(PURE_PYTHON, []).append(name + PURE_PYTHON)
            jobs.setdefault(PURE_PYTHON, []).append((str(path), events))
    children = {}
    for group, group_jobs in jobs.items():
        job_file = folder / f"{len(children)}.json"
        job_file.write_text(json.dumps(group_jobs), encoding="utf-8")
        environment = dict(os.environ)
        environment["DUNNING_RULES_YAML"] = "python" if group == PURE_PYTHON else "libyaml"
        children[group] = subprocess.Popen(
            [sys.executable, "-c", CHILD.format(limit=ADDRESS_SPACE, cpu=60), str(job_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
    deadline = time.monotonic() + WALL_TIMEOUT
    reports: dict[str, dict[str, Any]] = {}
    for group, child in children.items():
        try:
            out, err = child.communicate(timeout=max(deadline - time.monotonic(), 1.0))
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
            err = "timed out\n" + err
        if child.returncode != 0:
            for name in groups[group]:
                reports[name] = {"crash": f"exit {child.returncode}: {err[-2000:]}"}
            continue
        for name, result in zip(groups[group], json.loads(out), strict=True):
            reports[name] = result
    return reports


def report(attacks: dict[str, dict[str, Any]], name: str, seconds: float) -> dict[str, Any]:
    """The attack's report, after checking that the child finished within ``seconds`` of CPU."""
    result = attacks[name]
    assert "crash" not in result, result.get("crash")
    assert result["seconds"] < seconds, f"{name} took {result['seconds']:.2f}s"
    return result


def test_an_alias_bomb_is_refused_at_the_alias(attacks):
    """Nine levels of nine aliases (41 s and 3.4 GB before) are refused in milliseconds, at the
    first alias that stands for more than the bound."""
    result = report(attacks, "alias bomb", 1.0)
    assert result["error"] == (
        f"{result['path']}:8:10: $: aliases expand the document to more than 3,400 nodes, "
        "100 times the 34 nodes it writes (*d alone stands for more than 3,400)"
    )


def test_a_merge_key_bomb_is_refused_too(attacks):
    """Merging nine copies of the last mapping, nine times over, is counted like aliases."""
    result = report(attacks, "merge-key bomb", 1.0)
    assert result["error"] == (
        f"{result['path']}:9:17: $: aliases expand the document to more than 6,900 nodes, "
        "100 times the 69 nodes it writes (*a4 alone stands for more than 6,900)"
    )


def test_a_recursive_alias_is_refused(attacks):
    """An alias inside the value it names is refused (it would expand forever)."""
    result = report(attacks, "recursive alias", 1.0)
    assert result["error"] == (
        f"{result['path']}:3:18: $: alias *s is inside the value it names (a recursive alias)"
    )


def test_more_than_the_most_aliases_are_refused(attacks):
    """The 10,001st alias of a file is refused at its place."""
    result = report(attacks, "too many aliases", 2.0)
    assert result["error"] == (
        f"{result['path']}:5:{7 + 4 * MAX_ALIASES}: $: the file has more than 10,000 aliases"
    )


def test_a_32_kb_dotted_path_is_refused_quickly(attacks):
    """A 31,999-character path (9 s and 1 GB before) is refused at once, naming the bound."""
    result = report(attacks, "32 KB dotted path", 1.0)
    assert result["error"].splitlines()[0] == (
        f"{result['path']}:5:11: $.rules[0].when: rule 'r': invalid expression: "
        "the expression is 31,999 characters long; at most 10,000"
    )


def test_a_dotted_path_at_the_bound_loads_and_evaluates(attacks):
    """A path of 4,994 fields within 10,000 characters loads and reads the event."""
    result = report(attacks, "dotted path at the bound", 5.0)
    assert result["matched"] == [[]]  # the event's a.a is 1, so a.a.a... is null: no match
    assert result["warnings"] == []


def test_an_any_of_10000_conditions_loads_and_evaluates(attacks):
    """A flat any: of 10,000 conditions (a recursion error before) holds for the last one
    and for no other value."""
    result = report(attacks, "any of 10,000 conditions", 20.0)
    assert result["matched"] == [["r"], []]
    assert result["warnings"] == []


def test_an_all_of_2000_conditions_loads_and_evaluates(attacks):
    """A flat all: of 2,000 conditions (the same chain as any:, with &&; 10,000 are measured
    in docs/rule-files.md) holds when each does and fails when one does not."""
    result = report(attacks, "all of 2,000 conditions", 5.0)
    assert result["matched"] == [["r"], []]
    assert result["warnings"] == []


def test_a_long_or_chain_in_one_expression_evaluates(attacks):
    """500 `||` in one expression are a chain, not 500 levels: it loads and evaluates."""
    result = report(attacks, "|| chain at the bound", 5.0)
    assert result["matched"] == [["r"], []]
    assert result["warnings"] == []


def test_a_long_pipe_chain_evaluates(attacks):
    """2,400 pipes in one expression are a chain too."""
    result = report(attacks, "pipe chain at the bound", 5.0)
    assert result["matched"] == [["r"], []]
    assert result["warnings"] == []


def test_a_million_brackets_of_yaml_are_refused_at_the_65th(attacks):
    """YAML nested a million deep is refused where it passes 64 levels."""
    result = report(attacks, "a million brackets of YAML", 2.0)
    assert result["error"] == (
        f"{result['path']}:2:{7 + MAX_YAML_DEPTH}: $: "
        "mappings and lists nest more than 64 levels deep"
    )


def test_deeply_nested_parentheses_are_refused_at_the_65th(attacks):
    """5,000 nested parentheses are refused at the first one too deep."""
    result = report(attacks, "5,000 nested parentheses", 1.0)
    assert result["error"].splitlines()[0] == (
        f"{result['path']}:5:{11 + MAX_EXPRESSION_DEPTH}: $.rules[0].when: rule 'r': "
        "invalid expression: the expression nests more than 64 levels deep"
    )


@pytest.mark.parametrize(
    ("name", "column"),
    [("9,000 negations", 12), ("3,000 projections", 11), ("deep JSON literal", 12)],
    ids=["negations", "projections", "json-literal"],
)
def test_deep_nesting_without_brackets_is_refused(attacks, name, column):
    """Nesting the bracket count does not show (the parser recurses once per `!` or
    projection; JSON decoding once per level) is refused too, at the expression."""
    result = report(attacks, name, 1.0)
    assert result["error"].splitlines()[0] == (
        f"{result['path']}:5:{column}: $.rules[0].when: rule 'r': "
        "invalid expression: the expression nests more than 64 levels deep"
    )


def test_a_file_over_10_mb_is_refused_unread(attacks):
    """An 11 MB file is refused by its size."""
    result = report(attacks, "11 MB file", 2.0)
    assert result["error"] == (
        f"{result['path']}:1:1: $: the file is 11,000,022 bytes long; at most 10,000,000"
    )


def test_a_long_base_60_integer_is_refused_in_linear_time(attacks):
    """1:00:00:... 200,000 times (quadratic to convert: 3 s) is an invalid value at once."""
    result = report(attacks, "long base 60 integer", 1.5)
    assert result["error"] == (
        f"{result['path']}:3:15: $.settings.a: invalid value: a base 60 integer of "
        "600,001 characters; at most 4,300"
    )


def test_unclosed_placeholders_are_read_in_linear_time(attacks):
    """200,000 '{' (13 s for the schema's old placeholder pattern) are one problem, soon."""
    result = report(attacks, "unclosed placeholders", 1.5)
    assert result["error"].splitlines()[0] == (
        f"{result['path']}:5:39: $.rules[0].actions[0].duration: rule 'r': "
        "invalid expression: '{{' has no closing '}}'"
    )


@pytest.mark.parametrize("name", list(YAML_ATTACKS), ids=list(YAML_ATTACKS))
def test_the_pure_python_path_refuses_each_yaml_attack_alike(attacks, name):
    """Each attack on the YAML reader gives the same error on the pure-Python path as on
    libyaml's, within the same bound of CPU time."""
    python = report(attacks, name + PURE_PYTHON, YAML_ATTACKS[name])
    assert python["error"] == report(attacks, name, YAML_ATTACKS[name])["error"]


def test_thousands_of_errors_are_reported_in_linear_time(attacks):
    """2,000 bad expressions on long lines are 2,000 problems, each with its line excerpt, in
    bounded time (each problem split the whole file into lines before: 2 GB of work)."""
    result = report(attacks, "2,000 bad expressions", 3.0)
    assert result["error"].count("invalid expression") == 2_000


# --- the same bounds, in process ---------------------------------------------------------------


def load_error(text: str) -> str:
    with pytest.raises(dr.RuleFileError) as caught:
        dr.load_rules(text)
    return str(caught.value)


def test_an_expression_one_character_too_long_is_refused():
    """10,001 characters are refused at the expression's first character; 10,000 load."""
    at_bound = "data.object." + "a" * (MAX_EXPRESSION_LENGTH - len("data.object."))
    dr.load_rules(rule_file(at_bound))
    assert load_error(rule_file(at_bound + "b")).splitlines()[0] == (
        "<string>:5:11: $.rules[0].when: rule 'r': invalid expression: "
        "the expression is 10,001 characters long; at most 10,000"
    )


def test_a_long_placeholder_is_refused_at_its_place():
    """The bound applies to each placeholder's expression, at the placeholder."""
    text = (
        "version: 1\nrules:\n  - name: r\n    on: invoice.paid\n    actions:\n"
        "      - {type: note, text: 'Hi {{ " + "a" * (MAX_EXPRESSION_LENGTH + 1) + " }}'}\n"
    )
    assert load_error(text).splitlines()[0] == (
        "<string>:6:35: $.rules[0].actions[0].text: rule 'r': invalid expression: "
        "the expression is 10,001 characters long; at most 10,000"
    )


def test_an_expression_at_the_deepest_nesting_loads():
    """64 levels of brackets load; 65 are refused at the 65th bracket."""
    dr.load_rules(rule_file("'" + "[" * 64 + "a" + "]" * 64 + "'"))
    error = load_error(rule_file("'" + "[" * 65 + "a" + "]" * 65 + "'"))
    assert error.splitlines()[0] == (
        "<string>:5:76: $.rules[0].when: rule 'r': invalid expression: "
        "the expression nests more than 64 levels deep"
    )


def test_conditions_nested_past_the_bound_are_refused_at_the_level():
    """33 nested `not` are refused at the 33rd; 32 load."""

    def nots(count: int) -> str:
        return "{not: " * count + "data.object.paid" + "}" * count

    dr.load_rules(rule_file(nots(MAX_CONDITION_DEPTH)))
    path = ".not" * MAX_CONDITION_DEPTH
    assert load_error(rule_file(nots(MAX_CONDITION_DEPTH + 1))) == (
        f"<string>:5:{11 + 6 * MAX_CONDITION_DEPTH}: $.rules[0].when{path}: rule 'r': "
        "all, any and not nest more than 32 levels deep"
    )


def test_a_string_over_10_mb_is_refused():
    """Text given as a str is held to the file bound too, in bytes of UTF-8."""
    text = "version: 1\nrules: []\n# " + "é" * (MAX_FILE_BYTES // 2)
    assert load_error(text) == (
        "<string>:1:1: $: the file is 10,000,023 bytes long; at most 10,000,000"
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_an_endless_file_is_read_only_up_to_the_bound():
    """/dev/zero is refused after 10 MB are read, not read forever."""
    assert load_error("/dev/zero") == (
        "/dev/zero:1:1: $: the file is longer than 10,000,000 bytes, the most a rule file may be"
    )


def test_merge_keys_keep_working_and_a_written_key_wins():
    """<<: *defaults gives the keys a mapping does not write; one it writes replaces them."""
    rules = dr.load_rules(
        textwrap.dedent(
            """\
            version: 1
            settings:
              defaults: &defaults {type: note, text: hello, on_error: continue}
            rules:
              - name: r
                on: invoice.payment_failed
                actions:
                  - {<<: *defaults, text: bye}
            """
        )
    )
    step = rules.rules[0].actions[0]
    assert (step.type, step.on_error, step.raw_params) == ("note", "continue", {"text": "bye"})


# --- headroom ----------------------------------------------------------------------------------


def deepest_rule_file() -> str:
    """Every bound at its limit at once: conditions as deep as YAML allows, leaves as deep as
    expressions allow, parameters and settings as deep as YAML allows."""
    leaf = "not_null(" * MAX_EXPRESSION_DEPTH + "data.object.paid" + ")" * MAX_EXPRESSION_DEPTH
    condition: Any = leaf
    for level in range((MAX_YAML_DEPTH - 3) // 2):
        condition = {("all" if level % 2 else "any"): [condition, "data.object.paid"]}
    settings = "[" * (MAX_YAML_DEPTH - 2) + "1" + "]" * (MAX_YAML_DEPTH - 2)
    text = "[" * (MAX_YAML_DEPTH - 5) + "'{{ data.object.id }}'" + "]" * (MAX_YAML_DEPTH - 5)
    return (
        f"version: 1\nsettings:\n  deep: {settings}\nrules:\n  - name: r\n"
        f"    on: invoice.payment_failed\n    when: {json.dumps(condition)}\n"
        f"    actions:\n      - type: note\n        text: {text}\n"
    )


def _frames() -> int:
    frame, count = sys._getframe(), 0
    while frame is not None:
        frame, count = frame.f_back, count + 1
    return count


def _at_depth(frames: int, run: Callable[[], Any]) -> Any:
    """``run()`` called with ``frames`` frames on the stack below it."""
    if _frames() >= frames:
        return run()
    return _at_depth(frames, run)


def test_the_deepest_file_loads_and_runs_under_a_deep_caller():
    """With 450 frames already on the stack (of the default 1,000), the file with every bound
    at its limit loads, compiles without the interpreter, and evaluates."""
    assert sys.getrecursionlimit() == 1000

    def run() -> Any:
        rules = dr.load_rules(deepest_rule_file())
        recording = RecordingAdapter()
        engine = dr.Engine(rules, adapters={"note": recording})
        outcome = engine.handle(event(paid=True))
        return rules, outcome

    rules, outcome = _at_depth(450, run)
    assert not _compiler.uses_fallback(rules.rules[0].when.source)
    assert list(outcome.matched) == ["r"]
    assert list(outcome.warnings) == []
    assert outcome.actions[0].status == "ok"


# --- durations ---------------------------------------------------------------------------------


def retry_file(retry: str) -> str:
    return (
        "version: 1\nrules:\n  - name: r\n    on: invoice.payment_failed\n    actions:\n"
        f"      - {{type: note, retry: {retry}}}\n"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("400d", dt.timedelta(days=400)),
        ("9600h", dt.timedelta(days=400)),
        ("57w", dt.timedelta(weeks=57)),
        ("0.5s", dt.timedelta(seconds=0.5)),
    ],
    ids=["400d", "9600h", "57w", "half-second"],
)
def test_parse_duration_reads_durations_up_to_the_bound(text, expected):
    """Durations up to 400 days are read."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["400.00001d", "58w", "3000000d", "99999999999999999999w", "9" * 400 + "s"],
    ids=["just-over", "58w", "3000000d", "20-digits", "400-digits"],
)
def test_parse_duration_refuses_longer_durations(text):
    """Past 400 days parse_duration raises ValueError naming the bound, not OverflowError."""
    with pytest.raises(ValueError, match=r"is longer than the longest duration allowed, 400d$"):
        parse_duration(text)


def test_a_retry_delay_never_overflows():
    """RetryPolicy.delay is at most 400 days for any attempt and any backoff."""
    huge = RetryPolicy(attempts=10**6, backoff=dt.timedelta.max)
    assert huge.delay(1) == MAX_DURATION
    assert RetryPolicy(attempts=10**6).delay(10**6) == MAX_DURATION
    assert RetryPolicy(attempts=3, backoff=dt.timedelta(minutes=5)).delay(2) == dt.timedelta(
        minutes=10
    )


@pytest.mark.parametrize(
    ("retry", "expected"),
    [
        (
            "{attempts: 11, backoff: 1d}",
            "<string>:6:53: $.rules[0].actions[0].retry.backoff: rule 'r': the last of 11 attempts "
            "waits 512d (backoff 1d doubled 9 times), longer than the longest duration allowed, "
            "400d",
        ),
        (
            "{attempts: 21}",
            "<string>:6:40: $.rules[0].actions[0].retry.attempts: rule 'r': "
            "must be at most 20, not 21",
        ),
    ],
    ids=["longest-delay", "attempts"],
)
def test_retries_are_bounded_at_load(retry, expected):
    """The longest retry delay and the number of attempts are bounded, at the value."""
    assert load_error(retry_file(retry)) == expected


def test_the_longest_allowed_retry_loads():
    """20 attempts with the default 1m backoff (the last waits 182 days) load."""
    rules = dr.load_rules(retry_file("{attempts: 20}"))
    retry = rules.rules[0].actions[0].retry
    assert retry is not None
    assert retry.delay(19) == dt.timedelta(minutes=2**18)


def test_a_rendered_duration_past_the_bound_fails_its_step():
    """A wait whose template renders past 400 days fails the step; the engine does not raise."""
    rules = dr.load_rules(
        "version: 1\nsettings: {delay: 3000000d}\nrules:\n  - name: r\n"
        "    on: invoice.payment_failed\n    actions:\n"
        "      - {type: wait, duration: '{{ settings.delay }}'}\n"
    )
    engine = dr.Engine(rules, clock=FixedClock(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)))
    outcome = engine.handle(event())
    step = outcome.actions[0]
    assert (step.status, step.error) == (
        "failed",
        "3000000d is longer than the longest duration allowed, 400d",
    )

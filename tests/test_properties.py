"""Property tests: the loader and the engine fail only in their documented ways.

(1) Any text given to ``load_rules`` yields a RuleSet or raises DunningRulesError, never another
exception (jmespath's ``extra/test_hypothesis.py`` does the same for its parser).
(2) Any JSON-like value given to ``Engine.simulate`` yields an Outcome or raises EventError.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dunning_rules as dr
from dunning_rules.testing import FixedClock, RecordingAdapter

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "smart_dunning.yaml"

SETTINGS = settings(
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow],
)

# --- strategies --------------------------------------------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=12,
)

EVENT_TYPES = st.sampled_from(
    ["invoice.payment_failed", "invoice.paid", "invoice.*", "*", "customer.subscription.deleted"]
)
EXPRESSIONS = st.sampled_from(
    [
        "data.object.amount_due > `5`",
        "data.object.customer_email",
        "money(data.object.amount_due, data.object.currency)",
        "days_since(data.object.created)",
        "vars.ltv.amount",
        "steps.a.text",
        "settings.company",
        "length(data.object.lines.data)",
        "data.object.[",
        "nope(a)",
        "money(a)",
        "a || ",
        "",
    ]
)
TEMPLATES = st.one_of(
    st.text(max_size=20),
    EXPRESSIONS.map(lambda e: "{{ " + e + " }}"),
    EXPRESSIONS.map(lambda e: "Hi {{ " + e + " }} and {{"),
)
CONDITIONS = st.recursive(
    EXPRESSIONS,
    lambda children: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(children, max_size=3)),
        st.builds(lambda c: {"any": c}, st.lists(children, max_size=3)),
        st.builds(lambda c: {"not": c}, children),
    ),
    max_leaves=5,
)
ACTION = st.fixed_dictionaries(
    {"type": st.sampled_from(["note", "wait", "guard", "email", "approval"])},
    optional={
        "id": st.one_of(st.sampled_from(["a", "b", "1x"]), JSON),
        "when": st.one_of(CONDITIONS, JSON),
        "on_error": st.one_of(st.sampled_from(["stop", "continue", "no"]), JSON),
        "retry": st.one_of(
            st.fixed_dictionaries(
                {"attempts": st.integers(-1, 5)},
                optional={"backoff": st.sampled_from(["1m", "soon", "3 d"])},
            ),
            JSON,
        ),
        "duration": st.one_of(st.sampled_from(["3d", "12h", "30m", "2 days"]), JSON),
        "text": TEMPLATES,
        "params": st.dictionaries(st.text(max_size=5), TEMPLATES, max_size=3),
    },
)
RULE = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.sampled_from(["a", "b", "c"]), JSON),
        "on": st.one_of(EVENT_TYPES, st.lists(EVENT_TYPES, max_size=3), JSON),
        "when": st.one_of(CONDITIONS, JSON),
        "priority": st.one_of(st.integers(-5, 5), JSON),
        "stop": st.one_of(st.booleans(), JSON),
        "key": st.one_of(EXPRESSIONS, JSON),
        "cancel_on": st.one_of(EVENT_TYPES, st.lists(EVENT_TYPES, max_size=2), JSON),
        "actions": st.one_of(st.lists(ACTION, max_size=4), JSON),
        "description": JSON,
    },
)
RULE_FILE = st.fixed_dictionaries(
    {},
    optional={
        "version": st.one_of(st.just(1), JSON),
        "settings": st.one_of(st.dictionaries(st.text(max_size=6), JSON, max_size=3), JSON),
        "lookups": st.one_of(
            st.dictionaries(
                st.sampled_from(["ltv", "plan", "bad-name"]),
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["stripe.customer_ltv", "x"])},
                    optional={"customer": EXPRESSIONS},
                ),
                max_size=2,
            ),
            JSON,
        ),
        "rules": st.one_of(st.lists(RULE, max_size=3), JSON),
    },
)
GARBAGE = st.sampled_from(
    [
        ":",
        ": ",
        "- ",
        "{",
        "}",
        "[",
        "]",
        "{{",
        "}}",
        "'",
        '"',
        "`",
        "|",
        ">",
        "#",
        "\t",
        "&a ",
        "*a",
        "*nope",
        "!!int ",
        "!!bool ",
        "!!timestamp ",
        "!!float ",
        "!!python/none ",
        "!!binary ",
        "!!set ",
        "<<: ",
        "? ",
        "%YAML 1.1\n---\n",
        "---\n",
        "...\n",
        "\\",
        "\x00",
        "on: yes\n",
        "priority: off\n",
        "\n  ",
        "\n- ",
        "\ufeff",
        "\u2028",
    ]
)


@st.composite
def yamlish_documents(draw: st.DrawFn) -> str:
    """A plausible rule file, dumped to YAML, with a few pieces of garbage injected."""
    text = yaml.safe_dump(draw(RULE_FILE), sort_keys=False, allow_unicode=True)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(GARBAGE) + text[at:]
    return text if "\n" in text else text + "\n"


def _load(text: str) -> None:
    try:
        rules = dr.load_rules(text)
    except dr.DunningRulesError:
        return
    assert isinstance(rules, dr.RuleSet)


# --- (1) the loader ----------------------------------------------------------------------------


@SETTINGS
@given(st.text(max_size=200).map(lambda t: t + "\n"))
def test_any_text_loads_or_raises_our_error(text):
    """Any text with a newline gives a RuleSet or raises DunningRulesError."""
    _load(text)


@SETTINGS
@given(yamlish_documents())
def test_yamlish_documents_load_or_raise_our_error(text):
    """Plausible rule files with random values and injected garbage give a RuleSet or raise
    DunningRulesError, nothing else."""
    _load(text)


# --- (2) the engine ----------------------------------------------------------------------------

EVERYTHING = """\
version: 1
settings: {company: Acme}
rules:
  - name: all-events
    on: "*"
    when: {any: ["data.object.amount_due > `0`", {not: "data.object.paid"}, "type"]}
    key: data.object.customer
    actions:
      - type: note
        id: a
        text: >-
          {{ data.object.customer_name }} owes
          {{ money(data.object.amount_due, data.object.currency) }}
        whole: "{{ data.object }}"
        days: "{{ days_since(data.object.created) }}"
      - {type: note, when: "steps.a", text: "{{ steps.a.text }}"}
      - {type: wait, duration: "1d"}
      - type: note
        when: "length(data.object.lines.data) > `0`"
        n: "{{ data.object.lines.data[0].amount }}"
"""


def _engines() -> list[dr.Engine]:
    clock = FixedClock(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    mine = dr.Engine(dr.load_rules(EVERYTHING), adapters={"note": RecordingAdapter()}, clock=clock)
    example = dr.Engine(dr.load_rules(EXAMPLE), clock=clock)
    return [mine, example]


ENGINES = _engines()

EVENTS = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {
            "id": st.one_of(st.text(max_size=10), JSON),
            "type": st.one_of(EVENT_TYPES, JSON),
            "data": st.one_of(st.fixed_dictionaries({"object": JSON}), JSON),
        },
        optional={"created": JSON},
    ),
    st.fixed_dictionaries(
        {
            "id": st.text(max_size=10),
            "type": st.sampled_from(["invoice.payment_failed", "invoice.paid"]),
            "data": st.fixed_dictionaries(
                {
                    "object": st.fixed_dictionaries(
                        {},
                        optional={
                            "id": JSON,
                            "customer": JSON,
                            "customer_name": JSON,
                            "customer_email": JSON,
                            "customer_phone": JSON,
                            "amount_due": JSON,
                            "currency": JSON,
                            "created": JSON,
                            "next_payment_attempt": JSON,
                            "lines": st.one_of(st.fixed_dictionaries({"data": JSON}), JSON),
                            "paid": JSON,
                        },
                    )
                }
            ),
        }
    ),
)


@SETTINGS
@given(EVENTS)
def test_simulate_returns_an_outcome_or_raises_event_error(event):
    """Any JSON-like value gives an Outcome or raises EventError, with both engines."""
    for engine in ENGINES:
        try:
            outcome = engine.simulate(event)
        except dr.EventError:
            continue
        assert isinstance(outcome, dr.Outcome)
        assert outcome.event_id == event["id"]

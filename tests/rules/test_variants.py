"""The deterministic split of a rule's keys into variants, and the lift over the holdout."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from dunning_rules.rules.variants import Figures, Variant, bucket, lift, parse_variants

SPLIT = parse_variants(
    [{"name": "control", "weight": 10, "holdout": True}, {"name": "sms-first", "weight": 90}]
)
KEYS = [f"in_{n:06d}" for n in range(10_000)]


def test_parse_variants():
    """Names, weights and the holdout are kept in file order."""
    assert SPLIT.variants == (
        Variant(name="control", weight=10.0, holdout=True),
        Variant(name="sms-first", weight=90.0),
    )
    assert SPLIT.holdout == SPLIT.variants[0]
    assert SPLIT.names() == ("control", "sms-first")


def test_weight_defaults_to_one():
    """Variants without weights share evenly."""
    split = parse_variants([{"name": "a"}, {"name": "b"}])
    assert [v.weight for v in split.variants] == [1.0, 1.0]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([{"name": "a"}], "variants must be a list of at least two variants"),
        ("a", "variants must be a list of at least two variants"),
        ([{"name": "a"}, "b"], "variants[1] must be a mapping with a name and a weight"),
        (
            [{"name": "a"}, {"name": "a b"}],
            "variants[1]: name must be letters, digits, '-', '_' or '.' (at most 64), got 'a b'",
        ),
        ([{"name": "a"}, {"name": "a"}], "variants[1]: the variant name 'a' is used twice"),
        (
            [{"name": "a", "weight": -1}, {"name": "b"}],
            "variants[0]: weight must be a number of zero or more, got -1",
        ),
        (
            [{"name": "a", "weight": True}, {"name": "b"}],
            "variants[0]: weight must be a number of zero or more, got True",
        ),
        (
            [{"name": "a", "holdout": "yes"}, {"name": "b"}],
            "variants[0]: holdout must be true or false",
        ),
        (
            [{"name": "a", "holdout": True}, {"name": "b", "holdout": True}],
            "only one variant may be the holdout",
        ),
        (
            [{"name": "a", "weight": 0}, {"name": "b", "weight": 0}],
            "the weights of the variants sum to zero",
        ),
    ],
    ids=[
        "one",
        "not-a-list",
        "not-a-mapping",
        "bad-name",
        "duplicate",
        "negative",
        "boolean",
        "holdout-not-bool",
        "two-holdouts",
        "zero-sum",
    ],
)
def test_parse_variants_errors(raw, message):
    """Each mistake is refused with the item it is in."""
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        parse_variants(raw)
    assert str(info.value) == message


def test_assignment_is_deterministic():
    """The same rule and key always get the same variant."""
    assert [SPLIT.assign("r", k).name for k in KEYS[:200]] == [
        SPLIT.assign("r", k).name for k in KEYS[:200]
    ]


def test_assignment_is_the_same_in_another_process():
    """The hash is SHA-256, not Python's salted hash: another interpreter agrees."""
    code = (
        "from dunning_rules.rules.variants import bucket; "
        "print(repr(bucket('card-declined', 'in_1')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345"},
    )
    assert float(result.stdout) == bucket("card-declined", "in_1")


def test_weights_give_the_shares():
    """Over 10,000 keys a 10/90 split holds out close to 10% (within 1.5 points)."""
    held = sum(SPLIT.assign("card-declined", k).holdout for k in KEYS)
    assert 850 <= held <= 1150


def test_rules_split_independently():
    """Two rules do not hold out the same keys: the rule's name is part of the hash."""
    first = {k for k in KEYS if SPLIT.assign("rule-a", k).holdout}
    second = {k for k in KEYS if SPLIT.assign("rule-b", k).holdout}
    assert len(first & second) < 200  # about 1% of the keys are in both by chance


def test_zero_weight_gets_no_keys():
    """A variant of weight 0 is paused: no key lands in it."""
    split = parse_variants([{"name": "off", "weight": 0}, {"name": "on", "weight": 1}])
    assert {split.assign("r", k).name for k in KEYS[:500]} == {"on"}


def test_raising_a_weight_moves_keys_only_one_way():
    """Growing the first variant from 10 to 20 keeps every key it had."""
    grown = parse_variants(
        [{"name": "control", "weight": 20, "holdout": True}, {"name": "sms-first", "weight": 80}]
    )
    before = {k for k in KEYS if SPLIT.assign("r", k).holdout}
    after = {k for k in KEYS if grown.assign("r", k).holdout}
    assert before <= after


def test_bucket_is_in_the_unit_interval():
    """Buckets lie in [0, 1)."""
    values = [bucket("r", k) for k in KEYS[:1000]]
    assert all(0 <= v < 1 for v in values)


def test_lift_over_the_holdout():
    """40% recovered against a holdout's 20%: +20 points, 95% interval 11.53 to 28.47."""
    figures = lift({"control": (100, 20), "sms-first": (900, 360)}, "control")
    control, treated = figures
    assert control == Figures(name="control", holdout=True, runs=100, recovered=20, rate=0.2)
    assert (treated.rate, treated.uplift) == (0.4, 20.0)
    # sqrt(.4 * .6 / 900 + .2 * .8 / 100) = 0.0432; 1.96 times that is 8.47 points.
    assert (treated.low, treated.high) == (11.53, 28.47)


def test_lift_without_holdout_runs_has_no_uplift():
    """With no holdout runs there is nothing to compare with."""
    figures = lift({"control": (0, 0), "sms-first": (10, 5)}, "control")
    assert [(f.rate, f.uplift) for f in figures] == [(None, None), (0.5, None)]


def test_lift_without_a_holdout():
    """A split with no holdout reports rates only."""
    figures = lift({"a": (10, 5), "b": (10, 2)}, None)
    assert [(f.name, f.rate, f.uplift) for f in figures] == [("a", 0.5, None), ("b", 0.2, None)]

"""Property tests: signed-request checks fail only in their documented ways.

(1) ``verify_stripe_event``, for any body and any ``Stripe-Signature`` text, returns an event
or raises SignatureError or EventError; with a valid signature over any body, a v1 event
comes back equal to its JSON, and anything else is refused.
(2) ``parse_interaction``, for any body and any headers, returns an Answer or raises
SignatureError or InteractionError; with a valid signature over any body, too.
(3) ``parse_approval_value`` reads back what ``approval_value`` builds, and refuses any other
text with InteractionError.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
import urllib.parse
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dunning_rules as dr
from dunning_rules._slack import Answer, approval_value, parse_approval_value, parse_interaction
from dunning_rules.rules.planner import check_event

SETTINGS = settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])

STRIPE_SECRET = "whsec_fuzz"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
STAMP = 1721954100
NOW = dt.datetime.fromtimestamp(STAMP, dt.timezone.utc)

# Any text, lone surrogates and other unassigned or control characters included.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
HEX = st.text("0123456789abcdef", min_size=0, max_size=70)
TIMESTAMPS = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.integers(min_value=0, max_value=10**400).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    ANY_TEXT,
)
SCHEMES = st.sampled_from(["t", "v1", "v0", "T", "v1 ", " t", "", "v2"])
HEADER_ITEMS = st.one_of(
    st.builds(lambda name, value: f"{name}={value}", SCHEMES, st.one_of(TIMESTAMPS, HEX)),
    ANY_TEXT,
)
STRIPE_HEADERS = st.one_of(st.lists(HEADER_ITEMS, max_size=6).map(",".join), ANY_TEXT)

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    ANY_TEXT,
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def mostly(good: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` three times in four, so the checks after the odd shapes are reached too."""
    return st.sampled_from([True, True, True, False]).flatmap(lambda ok: good if ok else other)


def dropping(shape: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """The mapping, sometimes without some of its keys."""
    return st.tuples(shape, st.lists(st.text(max_size=1), max_size=2)).map(
        lambda pair: {k: v for k, v in pair[0].items() if k[:1] not in pair[1]}
    )


EVENTS = dropping(
    st.fixed_dictionaries(
        {
            "id": mostly(st.text(max_size=20), JSON),
            "type": mostly(st.sampled_from(["invoice.payment_failed", "invoice.paid"]), JSON),
            "data": mostly(
                st.fixed_dictionaries({"object": st.dictionaries(st.text(max_size=8), JSON)}),
                JSON,
            ),
        },
        optional={
            "object": st.sampled_from(["event", "v2.core.event", "invoice"]),
            "related_object": JSON,
        },
    )
)
JSON_TEXT = st.one_of(JSON, EVENTS).map(json.dumps)
EVENT_BODIES = st.one_of(
    EVENTS.map(json.dumps),
    EVENTS.map(lambda event: json.dumps(event).encode()),
    EVENTS.map(lambda event: "\ufeff" + json.dumps(event)),
)
BODIES = st.one_of(
    st.binary(max_size=200),
    ANY_TEXT,
    JSON_TEXT,
    JSON_TEXT.map(lambda text: "\ufeff" + text),
    JSON_TEXT.map(str.encode),
)


def stripe_sign(raw: bytes, stamp: int) -> str:
    mac = hmac.new(STRIPE_SECRET.encode(), f"{stamp}.".encode() + raw, hashlib.sha256)
    return f"t={stamp},v1={mac.hexdigest()}"


def raw_of(body: bytes | str) -> bytes:
    return body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")


def json_of(raw: bytes) -> tuple[bool, Any]:
    """(True, value) when ``raw`` is UTF-8 JSON (after one BOM, without NaN), else (False, None)."""

    def refuse(name: str) -> Any:
        raise ValueError(name)

    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
        return True, json.loads(text, parse_constant=refuse)
    except (ValueError, RecursionError):
        return False, None


def engine_reading(value: Any) -> dict[str, Any] | None:
    """What the engine reads from ``value`` as an event, or None where it refuses it (v2 thin
    events are refused by the webhook check even when they carry a data.object)."""
    if isinstance(value, dict) and value.get("object") == "v2.core.event":
        return None
    try:
        return check_event(value)
    except dr.EventError:
        return None


@SETTINGS
@given(body=BODIES, header=STRIPE_HEADERS, tolerance=st.sampled_from([None, 300, 0]))
def test_verify_stripe_event_returns_an_event_or_refuses_it(body, header, tolerance):
    """Any body and any header text: a dict, or SignatureError / EventError, nothing else."""
    try:
        event = dr.verify_stripe_event(body, header, STRIPE_SECRET, tolerance)
    except (dr.SignatureError, dr.EventError):
        return
    assert isinstance(event, dict)


@SETTINGS
@given(body=mostly(EVENT_BODIES, BODIES), age=st.integers(min_value=-30, max_value=30))
def test_a_validly_signed_body_is_what_the_engine_reads_or_is_refused(body, age):
    """Signed correctly: SignatureError exactly when the body is not UTF-8 JSON; otherwise the
    event the engine reads from that JSON, or EventError exactly when the engine refuses it."""
    raw = raw_of(body)
    readable, value = json_of(raw)
    if isinstance(body, str) and any("\ud800" <= c <= "\udfff" for c in body):
        readable = False  # a lone surrogate: not text anyone signed
    header = stripe_sign(raw, int(time.time()) - age)
    try:
        event = dr.verify_stripe_event(body, header, STRIPE_SECRET)
    except dr.SignatureError:
        assert not readable
        return
    except dr.EventError:
        assert readable
        assert engine_reading(value) is None
        return
    assert readable
    assert event == engine_reading(value)


# --- Slack ---------------------------------------------------------------------------------------

SLACK_HEADER_NAMES = st.sampled_from(
    [
        "X-Slack-Signature",
        "x-slack-signature",
        "X-Slack-Request-Timestamp",
        "x-slack-request-timestamp",
        "Content-Type",
    ]
)
SLACK_HEADERS = st.dictionaries(
    st.one_of(SLACK_HEADER_NAMES, ANY_TEXT),
    st.one_of(ANY_TEXT, TIMESTAMPS, HEX.map(lambda h: "v0=" + h)),
    max_size=4,
)
HEX_16 = st.text("0123456789abcdef", min_size=16, max_size=16)
RUN_IDS = mostly(st.text("0123456789abcdef", min_size=32, max_size=32).map("run_".__add__), JSON)
VALUES = mostly(
    st.builds(
        lambda r, s, n: f"{r}:{s}:{n}",
        RUN_IDS,
        mostly(st.integers(min_value=0, max_value=999_999), st.integers(min_value=-2)),
        mostly(HEX_16, st.text("0123456789abcdefA", max_size=17)),
    ),
    JSON,
)
ACTION = st.fixed_dictionaries(
    {
        "action_id": mostly(st.sampled_from(["dunning_approve", "dunning_reject", "other"]), JSON),
        "value": VALUES,
    },
    optional={"type": st.just("button"), "block_id": JSON},
)
ACTIONS = mostly(st.lists(mostly(ACTION, JSON), min_size=1, max_size=3), JSON)
USERS = mostly(
    st.fixed_dictionaries(
        {"id": mostly(st.text(min_size=1, max_size=12), JSON)},
        optional={"username": JSON, "name": mostly(st.text(max_size=8), JSON)},
    ),
    JSON,
)
PAYLOADS = dropping(
    st.fixed_dictionaries(
        {
            "type": mostly(
                st.just("block_actions"), st.sampled_from(["view_submission", "shortcut"])
            ),
            "actions": ACTIONS,
            "user": USERS,
        },
        optional={
            "channel": mostly(st.fixed_dictionaries({"id": mostly(st.text(), JSON)}), JSON),
            "container": st.one_of(
                st.fixed_dictionaries({}, optional={"channel_id": JSON, "message_ts": JSON}), JSON
            ),
            "message": JSON,
            "response_url": st.one_of(
                st.sampled_from(["https://hooks.slack.com/actions/1", "http://x", "https://"]),
                ANY_TEXT,
                JSON,
            ),
        },
    )
)
PAYLOAD_BODIES = PAYLOADS.map(lambda p: urllib.parse.urlencode({"payload": json.dumps(p)}).encode())
SLACK_BODIES = st.one_of(
    st.binary(max_size=200),
    ANY_TEXT,
    mostly(PAYLOADS, JSON).map(
        lambda p: urllib.parse.urlencode({"payload": json.dumps(p)}).encode()
    ),
    ANY_TEXT.map(lambda text: "payload=" + text),
)


def slack_sign(raw: bytes, stamp: int = STAMP) -> dict[str, str]:
    digest = hmac.new(SLACK_SECRET.encode(), f"v0:{stamp}:".encode() + raw, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


@SETTINGS
@given(body=SLACK_BODIES, headers=SLACK_HEADERS)
def test_parse_interaction_returns_an_answer_or_refuses_it(body, headers):
    """Any body and any headers: an Answer, or SignatureError / InteractionError, nothing else."""
    try:
        answer = parse_interaction(body, headers, SLACK_SECRET, now=NOW)
    except (dr.SignatureError, dr.InteractionError):
        return
    assert isinstance(answer, Answer)


@SETTINGS
@given(body=mostly(PAYLOAD_BODIES, SLACK_BODIES), age=st.integers(min_value=-300, max_value=300))
def test_a_validly_signed_slack_body_gives_an_answer_or_an_interaction_error(body, age):
    """Signed correctly, any body: an Answer with well-formed fields, or a documented error."""
    raw = raw_of(body)
    try:
        answer = parse_interaction(body, slack_sign(raw, STAMP - age), SLACK_SECRET, now=NOW)
    except (dr.SignatureError, dr.InteractionError):
        return
    assert approval_value(answer.run_id, answer.step, answer.nonce)
    assert isinstance(answer.user, str)
    assert answer.response_url is None or answer.response_url.startswith("https://")
    for where in (answer.user_name, answer.channel, answer.message_ts):
        assert where is None or isinstance(where, str)


@SETTINGS
@given(
    run=st.text("0123456789abcdef", min_size=32, max_size=32).map("run_".__add__),
    step=st.integers(min_value=0, max_value=999_999),
    nonce=st.text("0123456789abcdef", min_size=16, max_size=16),
)
def test_parse_approval_value_reads_back_any_approval_value(run, step, nonce):
    """For any well-formed parts, parsing the built value gives the parts back."""
    assert parse_approval_value(approval_value(run, step, nonce)) == (run, step, nonce)


@SETTINGS
@given(value=st.one_of(ANY_TEXT, VALUES.filter(lambda v: isinstance(v, str))))
def test_parse_approval_value_reads_only_values_approval_value_builds(value):
    """Any text: a tuple that rebuilds the same text, or InteractionError."""
    try:
        run, step, nonce = parse_approval_value(value)
    except dr.InteractionError:
        return
    assert approval_value(run, step, nonce) == value

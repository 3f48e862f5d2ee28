"""``verify_stripe_event``: Stripe-Signature vectors from stripe-python and from localstripe."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

import dunning_rules as dr

SECRET = "whsec_test_secret_dunning_rules"


def load_vectors(fixtures_dir):
    data = json.loads((fixtures_dir / "stripe" / "signatures" / "vectors.json").read_text())
    return data["vectors"]


def body_of(fixtures_dir, vector) -> bytes:
    body = (fixtures_dir / "stripe" / vector["body_file"]).read_bytes()
    assert hashlib.sha256(body).hexdigest() == vector["body_sha256"]
    return body


def sign(body: bytes, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@pytest.fixture
def vector(fixtures_dir):
    return load_vectors(fixtures_dir)[0]


@pytest.fixture
def body(fixtures_dir, vector):
    return body_of(fixtures_dir, vector)


@pytest.mark.parametrize("index", [0, 1], ids=["payment_failed", "payment_succeeded"])
def test_fixture_vectors_verify_without_age_check(fixtures_dir, index):
    """Each fixture vector verifies with tolerance=None and returns the parsed event."""
    vector = load_vectors(fixtures_dir)[index]
    body = body_of(fixtures_dir, vector)
    event = dr.verify_stripe_event(body, vector["stripe_signature_header"], vector["secret"], None)
    assert event == json.loads(body)


def test_fixture_vector_is_too_old_for_the_default_tolerance(vector, body):
    """The default tolerance of 300 s rejects the fixture's old timestamp as a replay."""
    with pytest.raises(dr.SignatureError) as caught:
        dr.verify_stripe_event(body, vector["stripe_signature_header"], vector["secret"])
    assert str(caught.value) == (
        "Stripe signature check failed: Timestamp outside the tolerance zone (1721957659)"
    )


@pytest.mark.parametrize("as_text", [False, True], ids=["bytes", "str"])
def test_a_fresh_signature_is_accepted_with_the_default_tolerance(body, as_text):
    """A header signed now verifies with the default tolerance, for bytes or str bodies."""
    header = sign(body, SECRET, int(time.time()))
    payload = body.decode() if as_text else body
    event = dr.verify_stripe_event(payload, header, SECRET)
    assert event["id"] == "evt_1PgdA1B7WZ01zgkWdunn0001"
    assert event["type"] == "invoice.payment_failed"


def test_a_signature_just_inside_a_short_tolerance_is_accepted(body):
    """A signature 5 s old passes a 60 s tolerance."""
    header = sign(body, SECRET, int(time.time()) - 5)
    assert dr.verify_stripe_event(body, header, SECRET, tolerance=60)["object"] == "event"


def test_a_signature_older_than_the_tolerance_is_rejected(body):
    """A correctly signed header 10 minutes old is rejected by the default tolerance."""
    header = sign(body, SECRET, int(time.time()) - 600)
    with pytest.raises(dr.SignatureError, match="Timestamp outside the tolerance zone"):
        dr.verify_stripe_event(body, header, SECRET)


def test_a_tampered_body_is_rejected(vector, body):
    """Changing one byte of the body makes the signature fail."""
    tampered = body.replace(b'"amount_due": 1000', b'"amount_due": 1', 1)
    assert tampered != body
    with pytest.raises(dr.SignatureError) as caught:
        dr.verify_stripe_event(tampered, vector["stripe_signature_header"], SECRET, None)
    assert str(caught.value) == (
        "Stripe signature check failed: "
        "No signatures found matching the expected signature for payload"
    )


def test_a_wrong_secret_is_rejected(vector, body):
    """The right header checked with another secret fails."""
    with pytest.raises(dr.SignatureError, match="No signatures found matching"):
        dr.verify_stripe_event(body, vector["stripe_signature_header"], "whsec_other", None)


@pytest.mark.parametrize("header", ["", None], ids=["empty", "none"])
def test_a_missing_header_is_rejected(body, header):
    """No Stripe-Signature header is a SignatureError."""
    with pytest.raises(dr.SignatureError) as caught:
        dr.verify_stripe_event(body, header, SECRET, None)
    assert str(caught.value) == "no Stripe-Signature header"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("garbage", "Unable to extract timestamp and signatures from header"),
        ("t=1721957659,v0=abc", "No signatures found with expected scheme v1"),
    ],
    ids=["garbage", "other-scheme"],
)
def test_a_malformed_header_is_rejected(body, header, message):
    """A header that is not t=...,v1=... is a SignatureError."""
    with pytest.raises(dr.SignatureError) as caught:
        dr.verify_stripe_event(body, header, SECRET, None)
    assert str(caught.value) == f"Stripe signature check failed: {message}"


def test_a_signed_body_that_is_not_json_is_a_signature_error():
    """A correctly signed body that is not JSON is malformed: SignatureError."""
    body = b"{no"
    with pytest.raises(dr.SignatureError) as caught:
        dr.verify_stripe_event(body, sign(body, SECRET, int(time.time())), SECRET)
    assert str(caught.value).startswith("the signed body is not JSON: ")


def test_signature_error_is_a_value_error_and_ours():
    """SignatureError derives from DunningRulesError and ValueError."""
    assert issubclass(dr.SignatureError, dr.DunningRulesError)
    assert issubclass(dr.SignatureError, ValueError)


def test_localstripe_delivery_verifies(fixtures_dir):
    """The header localstripe really sent verifies on its body (age check off)."""
    folder = fixtures_dir / "stripe" / "localstripe"
    vector = json.loads((folder / "invoice.payment_failed.vector.json").read_text())
    body = (fixtures_dir / "stripe" / vector["body_file"]).read_bytes()
    assert hashlib.sha256(body).hexdigest() == vector["body_sha256"]
    event = dr.verify_stripe_event(body, vector["stripe_signature_header"], vector["secret"], None)
    assert event["type"] == "invoice.payment_failed"
    assert event == json.loads(body)


def test_localstripe_delivery_fails_with_the_wrong_secret(fixtures_dir):
    """The localstripe header does not verify with the fixture vectors' secret."""
    folder = fixtures_dir / "stripe" / "localstripe"
    vector = json.loads((folder / "invoice.payment_failed.vector.json").read_text())
    body = (fixtures_dir / "stripe" / vector["body_file"]).read_bytes()
    with pytest.raises(dr.SignatureError, match="No signatures found matching"):
        dr.verify_stripe_event(body, vector["stripe_signature_header"], SECRET, None)


# --- hostile headers: each one is a SignatureError with its reason ------------------------------

HEX = "0" * 64


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (f"v1={HEX}", "Unable to extract timestamp and signatures from header"),
        (f"t=1721957659,t=1721957659,v1={HEX}", "the header holds more than one timestamp"),
        (f"t={'9' * 400},v1={HEX}", "the header's timestamp is not a whole number of seconds"),
        (f"t=-5,v1={HEX}", "the header's timestamp is not a whole number of seconds"),
        (f"t=1721957659.5,v1={HEX}", "the header's timestamp is not a whole number of seconds"),
        (f"t=soon,v1={HEX}", "the header's timestamp is not a whole number of seconds"),
        (f"t=,v1={HEX}", "the header's timestamp is not a whole number of seconds"),
        (
            f"t=\u0661\u0667\u0662\u0661,v1={HEX}",
            "the header's timestamp is not a whole number of seconds",
        ),
        (
            "t=1721957659,v1=\u00e9",
            "No signatures found matching the expected signature for payload",
        ),
        (
            "t=1721957659,v1=\ud800",
            "No signatures found matching the expected signature for payload",
        ),
        ("t=1721957659,v1=", "No signatures found matching the expected signature for payload"),
        ("t=1721957659," + "v1=x," * 2000, "the header is longer than 8192 characters"),
    ],
    ids=[
        "no-timestamp",
        "two-timestamps",
        "400-digit-timestamp",
        "negative-timestamp",
        "float-timestamp",
        "word-timestamp",
        "empty-timestamp",
        "non-ascii-digits",
        "non-ascii-signature",
        "lone-surrogate-signature",
        "empty-signature",
        "huge-header",
    ],
)
def test_a_hostile_header_is_a_signature_error(body, header, reason):
    """Each malformed Stripe-Signature header is refused with SignatureError and its reason."""
    with pytest.raises(dr.SignatureError) as caught:
        dr.verify_stripe_event(body, header, SECRET, None)
    assert str(caught.value) == f"Stripe signature check failed: {reason}"


def test_a_header_that_is_not_text_is_a_signature_error(body):
    """A header given as bytes (not decoded by the framework) is refused, not a TypeError."""
    with pytest.raises(dr.SignatureError, match=r"^no Stripe-Signature header$"):
        dr.verify_stripe_event(body, sign(body, SECRET, int(time.time())).encode(), SECRET)


def test_one_right_signature_among_several_is_accepted(body):
    """While a secret is rolled Stripe sends two v1 signatures: one matching is enough."""
    stamp = int(time.time())
    right = sign(body, SECRET, stamp).split(",")[1]
    header = f"t={stamp},v1={HEX},{right},v0={HEX}"
    assert dr.verify_stripe_event(body, header, SECRET)["type"] == "invoice.payment_failed"


def test_a_timestamp_further_ahead_than_the_tolerance_is_rejected(body):
    """A correctly signed timestamp 10 minutes in the future never expires: it is refused."""
    stamp = int(time.time()) + 600
    with pytest.raises(dr.SignatureError, match=r"Timestamp outside the tolerance zone"):
        dr.verify_stripe_event(body, sign(body, SECRET, stamp), SECRET)


def test_an_empty_secret_is_a_signature_error(body):
    """No signing secret (an unset setting) is refused, never compared against."""
    header = sign(body, "", int(time.time()))
    with pytest.raises(dr.SignatureError, match=r"^no webhook signing secret"):
        dr.verify_stripe_event(body, header, "")


# --- hostile bodies ------------------------------------------------------------------------------


def test_a_forged_body_that_is_not_utf8_is_a_signature_error():
    """A body that is not UTF-8, with a made-up signature, fails the signature check."""
    with pytest.raises(dr.SignatureError, match="No signatures found matching"):
        dr.verify_stripe_event(b"\xff\xfe{}", f"t={int(time.time())},v1={HEX}", SECRET)


def test_a_signed_body_that_is_not_utf8_is_a_signature_error():
    """A correctly signed body that is not UTF-8 is malformed: SignatureError."""
    raw = b'{"id": "\xff"}'
    with pytest.raises(dr.SignatureError) as caught:
        dr.verify_stripe_event(raw, sign(raw, SECRET, int(time.time())), SECRET)
    assert str(caught.value) == "the signed webhook body is not UTF-8 text"


def test_a_str_body_with_a_lone_surrogate_is_a_signature_error(body):
    """A str body that no one could have signed (a lone surrogate) is refused."""
    text = body.decode() + "\ud800"
    with pytest.raises(dr.SignatureError) as caught:
        dr.verify_stripe_event(text, sign(body, SECRET, int(time.time())), SECRET)
    assert str(caught.value) == "the webhook body is not valid text (it holds a lone surrogate)"


def test_a_body_that_is_neither_bytes_nor_text_is_a_signature_error():
    """A parsed object passed in place of the raw body is refused with a clear message."""
    with pytest.raises(
        dr.SignatureError, match=r"^the webhook body must be bytes or str, not dict$"
    ):
        dr.verify_stripe_event({"id": "evt_1"}, f"t=1,v1={HEX}", SECRET)


def test_a_bytearray_body_is_read_like_bytes(body):
    """A bytearray body (some frameworks give one) verifies like the same bytes."""
    header = sign(body, SECRET, int(time.time()))
    assert dr.verify_stripe_event(bytearray(body), header, SECRET) == json.loads(body)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"id": NaN}', "NaN is not a JSON value"),
        (b"[" * 100_000, "nested too deeply"),
    ],
    ids=["nan", "deep-nesting"],
)
def test_a_signed_body_json_cannot_hold_is_a_signature_error(raw, reason):
    """NaN and nesting too deep for the parser are not JSON: SignatureError, never another."""
    with pytest.raises(dr.SignatureError) as caught:
        dr.verify_stripe_event(raw, sign(raw, SECRET, int(time.time())), SECRET)
    assert str(caught.value) == f"the signed body is not JSON: {reason}"


@pytest.mark.parametrize("as_text", [False, True], ids=["bytes", "str"])
def test_a_body_with_a_utf8_byte_order_mark_is_accepted(body, as_text):
    """A body that starts with a UTF-8 BOM is read without it; the signature covers the BOM."""
    marked = b"\xef\xbb\xbf" + body
    header = sign(marked, SECRET, int(time.time()))
    payload = marked.decode() if as_text else marked
    assert dr.verify_stripe_event(payload, header, SECRET) == json.loads(body)


def test_stripe_python_accepts_the_same_body_with_a_byte_order_mark(body):
    """stripe-python's construct_event reads the same BOM body: the two agree."""
    import stripe

    marked = b"\xef\xbb\xbf" + body
    header = sign(marked, SECRET, int(time.time()))
    theirs = stripe.Webhook.construct_event(marked, header, SECRET)
    assert theirs.id == dr.verify_stripe_event(marked, header, SECRET)["id"]


# --- signed, but not a Stripe v1 event: EventError ------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[1]", "a Stripe event is a mapping, not list"),
        (b"42", "a Stripe event is a mapping, not int"),
        (b"null", "a Stripe event is a mapping, not NoneType"),
        (b'{"type": "invoice.paid"}', "a Stripe event needs a string 'id'"),
        (
            b'{"id": "evt_1", "type": "invoice.paid", "data": {}}',
            "event 'evt_1' needs a mapping 'data.object'",
        ),
    ],
    ids=["list", "number", "null", "no-id", "no-data-object"],
)
def test_a_signed_body_that_is_not_an_event_is_an_event_error(raw, message):
    """A correctly signed JSON body that is not a Stripe event is an EventError, not a forgery."""
    with pytest.raises(dr.EventError) as caught:
        dr.verify_stripe_event(raw, sign(raw, SECRET, int(time.time())), SECRET)
    assert str(caught.value) == message


THIN = {
    "id": "evt_test_65R9Ijk8Z7mPeXbmmGkX16kgTsDbd7vJ",
    "object": "v2.core.event",
    "type": "v1.invoice.payment_failed",
    "livemode": False,
    "created": "2026-01-01T00:00:00.000Z",
    "related_object": {"id": "in_1", "type": "invoice", "url": "/v1/invoices/in_1"},
}


@pytest.mark.parametrize(
    "event",
    [THIN, {k: v for k, v in THIN.items() if k != "object"}],
    ids=["v2-core-event", "related-object-shape"],
)
def test_a_signed_thin_event_is_an_event_error_that_says_what_to_do(event):
    """A v2 thin event is refused with EventError naming snapshot payloads and the API."""
    raw = json.dumps(event).encode()
    with pytest.raises(dr.EventError) as caught:
        dr.verify_stripe_event(raw, sign(raw, SECRET, int(time.time())), SECRET)
    assert str(caught.value) == (
        "the body is a Stripe thin event (v2.core.event), which carries no data.object; "
        "dunning_rules reads v1 snapshot events: give the webhook endpoint (event destination) "
        "the snapshot payload for the invoice.* events it needs, or fetch the related object "
        "with the API first and pass a v1 event to Engine.handle"
    )

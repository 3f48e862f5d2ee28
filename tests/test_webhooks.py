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


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[1]", "the signed body is not a JSON object"),
        (b"{no", "the signed body is not JSON: "),
    ],
    ids=["array", "not-json"],
)
def test_a_signed_body_that_is_not_an_event_is_rejected(body, message):
    """A correctly signed body that is not a JSON object is a SignatureError."""
    header = sign(body, SECRET, int(time.time()))
    with pytest.raises(dr.SignatureError) as caught:
        dr.verify_stripe_event(body, header, SECRET)
    assert str(caught.value).startswith(message)


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

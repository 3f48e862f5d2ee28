"""Verify Stripe's webhook signature on the raw request body.

The ``Stripe-Signature`` header is ``t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=...][,v0=...]``;
the MAC is over ``<t>.`` followed by the body's exact bytes, keyed with the endpoint's signing
secret (``whsec_...``). This is the check stripe-python's ``WebhookSignature.verify_header``
makes, done on bytes so that no header value or body can raise anything but
:class:`SignatureError`. A correctly signed body that is not a Stripe v1 event is an
:class:`EventError`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Any

from ._event import THIN_EVENT
from ._signed import BOM, body_bytes, body_text, strict_json
from .errors import EventError, SignatureError
from .rules.planner import check_event

__all__ = ["verify_stripe_event"]

SCHEME = "v1"
# Stripe's header holds a timestamp and one or two signatures (two while a secret is rolled);
# a longer one is not Stripe's.
MAX_HEADER = 8192
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_SIGNATURE = re.compile(r"[0-9a-f]{64}", re.ASCII)


def _failed(reason: str) -> SignatureError:
    return SignatureError(f"Stripe signature check failed: {reason}")


def _parse_header(header: object) -> tuple[int, list[bytes]]:
    """The timestamp and the well-formed ``v1`` signatures of a ``Stripe-Signature`` header."""
    if not isinstance(header, str) or not header:
        raise SignatureError("no Stripe-Signature header")
    if len(header) > MAX_HEADER:
        raise _failed(f"the header is longer than {MAX_HEADER} characters")
    stamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        name, equals, value = item.strip().partition("=")
        if not equals:
            continue
        if name == "t":
            stamps.append(value)
        elif name == SCHEME:
            signatures.append(value)
    if not stamps:
        raise _failed("Unable to extract timestamp and signatures from header")
    if len(stamps) > 1:
        raise _failed("the header holds more than one timestamp")
    if not _TIMESTAMP.fullmatch(stamps[0]):
        raise _failed("the header's timestamp is not a whole number of seconds")
    if not signatures:
        raise _failed(f"No signatures found with expected scheme {SCHEME}")
    # A value that is not 64 hex digits cannot be a v1 signature: it never matches.
    wellformed = [s.encode("ascii") for s in signatures if _SIGNATURE.fullmatch(s)]
    return int(stamps[0]), wellformed


def _secret_bytes(secret: object) -> bytes:
    if not isinstance(secret, str) or not secret.strip():
        raise SignatureError("no webhook signing secret: pass the endpoint's secret (whsec_...)")
    try:
        return secret.encode("utf-8")
    except UnicodeEncodeError:
        raise SignatureError("the webhook signing secret is not valid text") from None


def _is_thin_event(event: dict[str, Any]) -> bool:
    if event.get("object") == "v2.core.event":
        return True
    data = event.get("data")
    has_object = isinstance(data, dict) and isinstance(data.get("object"), dict)
    return "related_object" in event and not has_object


def verify_stripe_event(
    payload: bytes | str, sig_header: str | None, secret: str, tolerance: int | None = 300
) -> dict[str, Any]:
    """Check the ``Stripe-Signature`` header on the raw body and return the parsed event.

    ``payload`` is the request body exactly as received (bytes, or the same text as str).
    ``tolerance`` (seconds): a signature whose timestamp is further than that from now, in
    the past (a replay) or in the future, is rejected; ``None`` turns the age check off (for
    fixtures). A body that starts with a UTF-8 byte order mark is read without it, as
    stripe-python does (the signature covers the mark).

    Raises :class:`~dunning_rules.errors.SignatureError` for anything forged or malformed: a
    missing, malformed or wrong header, a stale timestamp, a body that is not UTF-8 JSON.
    Raises :class:`~dunning_rules.errors.EventError` for a correctly signed JSON body that is
    not a Stripe v1 event (a list, a number, an object without ``id``, ``type`` and
    ``data.object``, or a v2 thin event).
    """
    timestamp, signatures = _parse_header(sig_header)
    key = _secret_bytes(secret)
    raw = body_bytes(payload, who="webhook")
    expected = hmac.new(key, str(timestamp).encode("ascii") + b"." + raw, hashlib.sha256)
    digest = expected.hexdigest().encode("ascii")
    # Compare with every signature, so the time taken does not tell which one was close.
    matches = [hmac.compare_digest(digest, signature) for signature in signatures]
    if not any(matches):
        raise _failed("No signatures found matching the expected signature for payload")
    if tolerance is not None and abs(time.time() - timestamp) > tolerance:
        raise _failed(f"Timestamp outside the tolerance zone ({timestamp})")

    text = body_text(raw, who="webhook")
    if text.startswith(BOM):
        text = text[len(BOM) :]
    try:
        event = strict_json(text)
    except ValueError as exc:
        raise SignatureError(f"the signed body is not JSON: {exc}") from None
    if isinstance(event, dict) and _is_thin_event(event):
        raise EventError(THIN_EVENT)
    checked: dict[str, Any] = check_event(event)
    return checked

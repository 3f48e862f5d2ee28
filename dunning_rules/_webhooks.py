"""Verify Stripe's webhook signature on the raw request body."""

from __future__ import annotations

import json
from typing import Any

from .errors import SignatureError

__all__ = ["verify_stripe_event"]


def verify_stripe_event(
    payload: bytes | str, sig_header: str, secret: str, tolerance: int | None = 300
) -> dict[str, Any]:
    """Check the ``Stripe-Signature`` header on the raw body and return the parsed event.

    Uses stripe's own verifier, with ``tolerance`` (seconds) enforced: a signature older than
    that is rejected, as a replay. ``tolerance=None`` turns the age check off (for fixtures).
    Raises :class:`~dunning_rules.errors.SignatureError`.
    """
    import stripe

    text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    if not sig_header:
        raise SignatureError("no Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(text, sig_header, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise SignatureError(f"Stripe signature check failed: {exc.user_message or exc}") from None
    try:
        event = json.loads(text)
    except ValueError as exc:
        raise SignatureError(f"the signed body is not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise SignatureError("the signed body is not a JSON object")
    return event

"""The two endpoints: Stripe's webhook and Slack's interactions (the approval buttons).

Both read ``request.body``, the exact bytes that were signed, and are exempt from CSRF: they
are authenticated by their signature instead.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

import dunning_rules as dr

from .engine import get_engine


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Verify the event, store it and start its runs (``defer=True``: no step runs here, the
    ``dunning_worker`` command runs them), and answer at once."""
    signature = request.headers.get("Stripe-Signature", "")
    try:
        event = dr.verify_stripe_event(request.body, signature, settings.STRIPE_WEBHOOK_SECRET)
    except (dr.SignatureError, dr.EventError) as exc:
        return JsonResponse({"error": str(exc)}, status=400)  # forged, stale, or not v1
    outcome = get_engine().handle(event, defer=True)  # stored in one transaction
    return JsonResponse(
        {
            "event_id": outcome.event_id,
            "duplicate": outcome.duplicate,  # delivered before: nothing else happened
            "runs": [run.id for run in outcome.runs],
        }
    )


@csrf_exempt
@require_POST
def slack_interaction(request: HttpRequest) -> HttpResponse:
    """Answer an approval button; ignore the app's other interactions."""
    try:
        get_engine().handle_slack_interaction(
            request.body, request.headers, settings.SLACK_SIGNING_SECRET
        )
    except dr.SignatureError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except dr.InteractionError:
        return HttpResponse(status=200)  # signed by Slack, another button of the app
    except dr.RunNotFoundError as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    except dr.ApprovalNotPendingError as exc:
        # Already answered, timed out or moved on: Slack shows the reason to who clicked.
        answer = {"response_type": "ephemeral", "replace_original": False, "text": exc.reason}
        return JsonResponse(answer)
    return HttpResponse(status=200)

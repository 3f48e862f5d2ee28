"""``stripe/webhook`` and ``slack/interactions``; include them under a prefix of your own."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "dunning_hooks"
urlpatterns = [
    path("stripe/webhook", views.stripe_webhook, name="stripe-webhook"),
    path("slack/interactions", views.slack_interaction, name="slack-interactions"),
]

"""The app's configuration."""

from __future__ import annotations

from django.apps import AppConfig


class DunningHooksConfig(AppConfig):
    name = "dunning_hooks"
    verbose_name = "Dunning rules"

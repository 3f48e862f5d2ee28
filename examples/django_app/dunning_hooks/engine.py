"""The app's one engine per process, built from the settings on first use.

``DUNNING_RULES_FILE`` and ``DUNNING_STORE`` name the rules and the store;
``DUNNING_ENGINE_OPTIONS`` holds more arguments for :class:`dunning_rules.Engine`
(``adapters=``, ``lookups=``, ``clock=``, ...). A change of any ``DUNNING_`` setting (as
``override_settings`` makes in tests) closes the engine, and the next use builds a new one.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

import dunning_rules as dr


def build_engine(**options: Any) -> dr.Engine:
    """An engine on the settings' rules and store; ``options`` go to ``dr.Engine``."""
    options = {"store": settings.DUNNING_STORE, **settings.DUNNING_ENGINE_OPTIONS, **options}
    return dr.Engine(dr.load_rules(settings.DUNNING_RULES_FILE), **options)


@functools.cache
def get_engine() -> dr.Engine:
    """The process's engine (thread-safe; its store connects on first use, after a fork)."""
    return build_engine()


def close_engine() -> None:
    """Close the process's engine, if it was built; the next :func:`get_engine` builds anew."""
    if get_engine.cache_info().currsize:
        get_engine().close()
    get_engine.cache_clear()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("DUNNING_"):
        close_engine()

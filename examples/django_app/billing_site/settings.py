"""Settings of the example project: everything that differs between machines comes from the
environment.

- ``DJANGO_SECRET_KEY`` (required), ``DJANGO_ALLOWED_HOSTS`` (comma-separated);
- ``DUNNING_RULES_FILE``: the rule file (default: examples/smart_dunning.yaml);
- ``DUNNING_STORE``: the store URL (default ``sqlite:///dunning.db``); point it at the same
  PostgreSQL database as your app's if you like: its tables all start with ``dunning_rules_``;
- ``STRIPE_WEBHOOK_SECRET``, ``SLACK_SIGNING_SECRET``: the signing secrets;
- the adapters' own variables: ``STRIPE_API_KEY``, ``SLACK_BOT_TOKEN``, ``SENDGRID_API_KEY``, ...
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",") if h]

INSTALLED_APPS = ["dunning_hooks"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",  # the two webhook views are exempt
]
ROOT_URLCONF = "billing_site.urls"
WSGI_APPLICATION = "billing_site.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}  # the example needs none; your app keeps its own
USE_TZ = True

DUNNING_RULES_FILE = os.environ.get(
    "DUNNING_RULES_FILE", str(BASE_DIR.parent / "smart_dunning.yaml")
)
DUNNING_STORE = os.environ.get("DUNNING_STORE", "sqlite:///dunning.db")
DUNNING_ENGINE_OPTIONS: dict[str, object] = {}  # more arguments for dunning_rules.Engine
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
SLACK_SIGNING_SECRET = os.environ.get("SLACK_SIGNING_SECRET", "")

#!/usr/bin/env python
"""Django's command line for the example project: ``python manage.py dunning_worker``."""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

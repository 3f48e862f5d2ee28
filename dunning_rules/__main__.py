"""``python -m dunning_rules``: the same as the ``dunning-rules`` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())

"""Where the shared test data is: ``../shared/fixtures`` beside the checkout, or the folder
named by DUNNING_RULES_FIXTURES."""

from __future__ import annotations

import os
from pathlib import Path

FIXTURES = Path(
    os.environ.get("DUNNING_RULES_FIXTURES")
    or Path(__file__).resolve().parents[2] / "shared" / "fixtures"
)

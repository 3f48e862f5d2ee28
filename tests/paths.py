"""Where the test data is: ``tests/fixtures`` inside the checkout, and nowhere else.

Every test reads its data files through :data:`FIXTURES` (or the ``fixtures_dir`` fixture,
which returns it); tests/fixtures/README.md says where each folder came from.
"""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"

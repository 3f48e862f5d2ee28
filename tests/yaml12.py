"""Read test data YAML the way rule files are read (YAML 1.2 booleans, no duplicate keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dunning_rules.rules.locations import parse_yaml


def load_yaml(path: Path) -> Any:
    """The data of a YAML file; AssertionError naming the place of any problem."""
    data, _, problems = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    assert not problems, "\n".join(str(p) for p in problems)
    return data

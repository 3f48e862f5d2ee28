"""Variants of a rule, and a holdout: a deterministic split of its keys, and the lift.

A rule may split the keys of its runs into named variants with weights::

    variants:
      - {name: control, weight: 10, holdout: true}   # gets no messages: the baseline
      - {name: sms-first, weight: 90}

:meth:`Split.assign` puts a key in a variant by a hash of the rule's name and the key (SHA-256,
so every process and every run of the program agrees): the same invoice always lands in the
same variant, retries and replays included, and two rules split the same keys independently.
Changing the weights moves only the keys whose hash falls between the old and the new bounds.

:func:`lift` compares the share of recovered runs of each variant with the holdout's.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Figures", "Split", "Variant", "bucket", "lift", "parse_variants"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SCALE = float(1 << 64)
_Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True, kw_only=True)
class Variant:
    """One arm of a split: its ``name``, its share ``weight`` (of the sum of the weights), and
    whether it is the ``holdout`` (its runs send nothing)."""

    name: str
    weight: float
    holdout: bool = False


def bucket(rule: str, key: str) -> float:
    """Where ``key`` falls for ``rule``, in [0, 1): the first 64 bits of
    SHA-256(rule, key) over 2**64."""
    digest = hashlib.sha256(f"{rule}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


@dataclass(frozen=True, slots=True, kw_only=True)
class Split:
    """The variants of one rule, in file order."""

    variants: tuple[Variant, ...]

    @property
    def holdout(self) -> Variant | None:
        return next((v for v in self.variants if v.holdout), None)

    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variants)

    def assign(self, rule: str, key: str) -> Variant:
        """The variant of ``key`` in ``rule``: the one whose stretch of the weights holds
        :func:`bucket` times their sum."""
        total = sum(v.weight for v in self.variants)
        point = bucket(rule, key) * total
        reached = 0.0
        chosen = self.variants[-1]
        for variant in self.variants:
            reached += variant.weight
            if variant.weight > 0 and point < reached:
                chosen = variant
                break
        if chosen.weight <= 0:  # rounding at the very top: the last arm that has a weight
            chosen = next(v for v in reversed(self.variants) if v.weight > 0)
        return chosen


def parse_variants(raw: object) -> Split:
    """A :class:`Split` from a rule file's ``variants`` list. ValueError, naming the item
    (``variants[1]``), for a missing or repeated name, a weight that is not a number of zero
    or more, a second holdout, or weights that sum to zero."""
    if not isinstance(raw, (list, tuple)) or len(raw) < 2:
        raise ValueError("variants must be a list of at least two variants")
    variants = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"variants[{index}]"
        if not isinstance(item, Mapping):
            raise ValueError(f"{where} must be a mapping with a name and a weight")
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"{where}: name must be letters, digits, '-', '_' or '.' (at most 64), got {name!r}"
            )
        if name in seen:
            raise ValueError(f"{where}: the variant name {name!r} is used twice")
        seen.add(name)
        weight = item.get("weight", 1)
        if (
            isinstance(weight, bool)
            or not isinstance(weight, (int, float))
            or not math.isfinite(weight)
            or weight < 0
        ):
            raise ValueError(f"{where}: weight must be a number of zero or more, got {weight!r}")
        holdout = item.get("holdout", False)
        if not isinstance(holdout, bool):
            raise ValueError(f"{where}: holdout must be true or false")
        variants.append(Variant(name=name, weight=float(weight), holdout=holdout))
    if sum(1 for v in variants if v.holdout) > 1:
        raise ValueError("only one variant may be the holdout")
    if sum(v.weight for v in variants) <= 0:
        raise ValueError("the weights of the variants sum to zero")
    return Split(variants=tuple(variants))


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    """One variant's runs, how many recovered, and its lift over the holdout.

    ``uplift`` is the difference of recovery rates in percentage points (None for the
    holdout itself, or with no holdout runs), ``low``/``high`` its 95% confidence interval
    (normal approximation of two proportions; None when either group has no runs).
    """

    name: str
    holdout: bool
    runs: int
    recovered: int
    rate: float | None
    uplift: float | None = None
    low: float | None = None
    high: float | None = None


def lift(counts: Mapping[str, tuple[int, int]], holdout: str | None) -> list[Figures]:
    """Per variant (``name -> (runs, recovered)``, in the mapping's order): the recovery rate
    and, against ``holdout``, the uplift in percentage points with its 95% interval."""
    base = counts.get(holdout) if holdout is not None else None
    base_rate = base[1] / base[0] if base is not None and base[0] > 0 else None
    out = []
    for name, (runs, recovered) in counts.items():
        rate = recovered / runs if runs > 0 else None
        figures = Figures(
            name=name, holdout=name == holdout, runs=runs, recovered=recovered, rate=rate
        )
        if name != holdout and rate is not None and base_rate is not None and base is not None:
            spread = math.sqrt(rate * (1 - rate) / runs + base_rate * (1 - base_rate) / base[0])
            difference = rate - base_rate
            figures = Figures(
                name=name,
                holdout=False,
                runs=runs,
                recovered=recovered,
                rate=rate,
                uplift=round(100 * difference, 2),
                low=round(100 * (difference - _Z95 * spread), 2),
                high=round(100 * (difference + _Z95 * spread), 2),
            )
        out.append(figures)
    return out

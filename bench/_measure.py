"""How every benchmark here measures: CPU time, contenders interleaved in short slices, ratios
taken within each repetition, the median and the spread printed.

The machines these run on are shared and noisy. Wall-clock time counts the time another
process had the core; the CPU time of this process does not. Running contender A for a
minute and then B for a minute lets a burst of load hit one and not the other; running them
in turn, a slice each, lets it hit both alike. A ratio taken within one repetition compares
two figures measured under the same conditions, and the median of five such ratios is what
the tables give, with the lowest and highest beside it.

    from _measure import Contender, compare, print_table

    results = compare(
        [Contender("baseline", lambda: work(100)), Contender("engine", lambda: mine(100))],
        baseline="baseline",
    )
    print_table(results, unit="events")

Each contender is a callable that does a batch of work and returns how many items it did;
``compare`` calls it until a slice of CPU time is spent, then moves to the next one.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["Contender", "Result", "compare", "cpu_seconds", "print_table", "versus"]

cpu_seconds = time.process_time
"""The clock: CPU time of this process (all its threads), not wall-clock time."""


@dataclass(frozen=True)
class Contender:
    """One engine or path: ``run()`` does a batch and returns how many items it did."""

    name: str
    run: Callable[[], int]
    group: str = ""
    """Contenders are compared with the baseline of their own group (a size, a store)."""


@dataclass
class Result:
    """What one contender did in every repetition."""

    name: str
    group: str
    rates: list[float] = field(default_factory=list)
    """Items per CPU second, one per repetition."""
    ratios: list[float] = field(default_factory=list)
    """Its rate over the baseline's rate, within each repetition."""

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.ratios), max(self.ratios)

    @property
    def seconds_per_item(self) -> float:
        return 1.0 / self.rate


def compare(
    contenders: Sequence[Contender],
    *,
    baseline: str,
    repetitions: int = 5,
    slices: int = 6,
    slice_seconds: float = 0.04,
    warm: bool = True,
) -> list[Result]:
    """Measure every contender ``repetitions`` times; in each repetition each one runs
    ``slices`` slices of about ``slice_seconds`` of CPU time, in turn (the order rotates from
    slice to slice). A contender's ratio is its rate over the rate of the contender named
    ``baseline`` in its group, in the same repetition."""
    if warm:
        for contender in contenders:
            contender.run()
    results = {(c.group, c.name): Result(c.name, c.group) for c in contenders}
    bases = {c.group for c in contenders if c.name == baseline}
    missing = {c.group for c in contenders} - bases
    if missing:
        raise ValueError(f"no contender named {baseline!r} in group(s) {sorted(missing)}")
    for _ in range(repetitions):
        spent = {(c.group, c.name): 0.0 for c in contenders}
        done = {(c.group, c.name): 0 for c in contenders}
        for number in range(slices):
            shift = number % len(contenders)
            for contender in [*contenders[shift:], *contenders[:shift]]:
                key = (contender.group, contender.name)
                gc.collect()
                start = cpu_seconds()
                count, elapsed = 0, 0.0
                while elapsed < slice_seconds:
                    count += contender.run()
                    elapsed = cpu_seconds() - start
                spent[key] += elapsed
                done[key] += count
        rates = {key: done[key] / spent[key] for key in spent}
        for key, rate in rates.items():
            results[key].rates.append(rate)
            results[key].ratios.append(rate / rates[(key[0], baseline)])
    return list(results.values())


def print_table(results: Sequence[Result], *, unit: str = "items", against: str = "") -> None:
    """One line per contender: its group, rate, time per item, and ratio (median, spread)."""
    heading = f"vs {against}" if against else "ratio"
    print(
        f"{'':<24} {'':>8} {unit + '/s':>12} {'us/' + unit.rstrip('s'):>12}"
        f" {heading:>14} {'spread':>15}"
    )
    for result in results:
        low, high = result.spread
        print(
            f"{result.name:<24} {result.group:>8} {result.rate:>12,.0f}"
            f" {result.seconds_per_item * 1e6:>12.1f} {result.ratio:>13.2f}x"
            f" {low:>7.2f}-{high:<6.2f}"
        )


def versus(result: Result, other: Result) -> tuple[float, float, float]:
    """``result``'s rate over ``other``'s, within each repetition: median, lowest, highest."""
    ratios = [mine / theirs for mine, theirs in zip(result.rates, other.rates, strict=True)]
    return statistics.median(ratios), min(ratios), max(ratios)

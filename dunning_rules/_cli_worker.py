"""``dunning-rules run-due``: carry on the runs whose wait is over, once or as a worker loop.

The engine comes from rule files and a store URL, or from the app itself (``--engine
module:attribute``, named as gunicorn and celery name apps), so that the worker sends with the
adapters, store and clock the app configured in Python.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import inspect
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from ._cli_common import UsageError, check_store_url, parse_interval, parse_time, plural

if TYPE_CHECKING:
    from ._engine import Engine
    from .outcome import Outcome

__all__ = ["load_engine", "run_due_command"]

_ENGINE_EXAMPLE = "myapp.dunning:engine"


def load_engine(spec: str) -> Engine:
    """The :class:`Engine` that ``module:attribute`` names: the attribute itself, or what it
    returns when it is a callable taking no arguments. The module is looked for in the
    current directory first (as ``python -m`` does), then on ``sys.path``."""
    from ._engine import Engine

    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UsageError(f"--engine {spec!r}: use module:attribute, as in {_ENGINE_EXAMPLE}")
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise UsageError(
                f"--engine {spec}: no module named {missing!r} in the current directory "
                "or on sys.path"
            ) from None
        raise  # the app's module imports something that is missing: its traceback says what
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise UsageError(
                f"--engine {spec}: module {module_name!r} has no attribute {attribute!r}"
            ) from None
    if isinstance(target, Engine):
        return target
    if not callable(target):
        raise UsageError(
            f"--engine {spec}: {attribute} is a {type(target).__name__}, "
            "not an Engine or a function that returns one"
        )
    try:
        inspect.signature(target).bind()
    except TypeError:
        raise UsageError(
            f"--engine {spec}: {attribute}() needs arguments; it must take none"
        ) from None
    except ValueError:  # no signature to inspect (some builtins): just call it
        pass
    engine = target()
    if not isinstance(engine, Engine):
        raise UsageError(
            f"--engine {spec}: {attribute}() returned a {type(engine).__name__}, not an Engine"
        )
    return engine


@dataclass
class _Tally:
    """What rounds of ``run_due`` did: runs resumed, steps run, and which of them failed."""

    runs: set[str] = field(default_factory=set)
    steps: int = 0
    failed_steps: list[str] = field(default_factory=list)
    failed_runs: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add(self, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            self.steps += len(outcome.actions)
            self.warnings.extend(outcome.warnings)
            for step in outcome.actions:
                if step.status == "failed":
                    run_id = outcome.runs[0].id if outcome.runs else "?"
                    self.failed_steps.append(
                        f"run {run_id}  rule {step.rule}  step {step.index} ({step.type}): "
                        f"{' '.join(str(step.error or 'failed').split())}"
                    )
            for run in outcome.runs:
                self.runs.add(run.id)
                if run.status == "failed":
                    reason = " ".join(str(run.reason or "").split())
                    self.failed_runs[run.id] = f"run {run.id}  rule {run.rule}: {reason}"
                else:
                    self.failed_runs.pop(run.id, None)

    @property
    def failed(self) -> bool:
        return bool(self.failed_steps or self.failed_runs)

    def summary(self) -> str:
        text = f"resumed {plural(len(self.runs), 'run')}, {plural(self.steps, 'step')}"
        problems = []
        if self.failed_steps:
            problems.append(f"{plural(len(self.failed_steps), 'step')} failed")
        if self.failed_runs:
            problems.append(f"{plural(len(self.failed_runs), 'run')} failed")
        return text + (": " + ", ".join(problems) if problems else "")

    def report(self, out: TextIO) -> None:
        print(self.summary(), file=out)
        for line in self.failed_steps:
            print(f"  failed step: {line}", file=out)
        for line in self.failed_runs.values():
            print(f"  failed run: {line}", file=out)
        for warning in self.warnings:
            print(f"  warning: {' '.join(warning.split())}", file=out)
        out.flush()


class _Wake(BaseException):
    """Raised by the signal handler out of a worker's idle wait (never out of a round), so
    that a stop does not wait for the interval to pass. A control signal, not an error."""


class _Stopper:
    """SIGTERM and SIGINT handlers for the worker loop.

    The first signal asks the loop to stop: during a round it only sets a flag, and the round
    finishes (every run it claimed is saved); during the idle wait it ends the wait at once.
    It also puts the previous handlers back, so a second signal acts as it would have
    (SIGINT raises KeyboardInterrupt, SIGTERM ends the process).
    """

    _SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested = False
        self._waiting = False
        self._previous: dict[int, Any] = {}

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        self._restore()
        if self._waiting:
            raise _Wake

    @contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is threading.main_thread():
            for number in self._SIGNALS:
                self._previous[number] = signal.signal(number, self)
        try:
            yield
        finally:
            self._restore()

    def _restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def wait(self, engine: Engine, interval: float) -> bool:
        """``engine.wait_for_work(interval)``, cut short by a stop signal (or skipped when one
        came already); False when the loop is to stop."""
        try:
            self._waiting = True
            if not self.requested:
                engine.wait_for_work(interval)
        except _Wake:
            pass
        finally:
            self._waiting = False
        return not self.requested


def _engine_for(args: argparse.Namespace) -> Engine:
    if args.engine is not None:
        if args.files or args.store is not None:
            raise UsageError(
                "--engine takes the rules, adapters and store from your app: "
                "give either FILE... --store URL or --engine module:attribute"
            )
        return load_engine(args.engine)
    if not args.files or args.store is None:
        raise UsageError(
            "run-due needs FILE... --store URL, or --engine module:attribute "
            f"(as in {_ENGINE_EXAMPLE})"
        )
    from . import Engine, load_rules

    check_store_url(args.store, must_exist=False)
    return Engine(load_rules(args.files), store=args.store)


def run_due_command(args: argparse.Namespace, out: TextIO) -> int:
    """``run-due``: exit 0 when every step and run went well, 1 when one failed (once); with
    ``--loop``, 0 when stopped by a signal (each round prints its own failures)."""
    interval = parse_interval(args.interval, "--interval")
    moment: _dt.datetime | None = None
    if args.at is not None:
        if args.loop:
            raise UsageError("--at fixes one moment: it cannot go with --loop")
        moment = parse_time(args.at, "--at")
    engine = _engine_for(args)
    stopper = _Stopper()
    total = _Tally()
    try:
        with stopper.installed() if args.loop else nullcontext():
            if args.loop:
                print(
                    f"working; waiting at most {args.interval.strip()} between rounds; "
                    "SIGTERM or Ctrl-C stops",
                    file=out,
                    flush=True,
                )
            while True:
                outcomes = engine.run_due(now=moment, stop=lambda: stopper.requested)
                rounds = _Tally()
                rounds.add(outcomes)
                total.add(outcomes)
                if outcomes or not args.loop:
                    rounds.report(out)
                if not args.loop or not stopper.wait(engine, interval):
                    break
    except _Wake:  # a signal at the very end of a wait, outside its own handler
        pass
    finally:
        engine.close()
    if args.loop:
        print(f"stopped; in all: {total.summary()}", file=out, flush=True)
        return 0
    return 1 if total.failed else 0

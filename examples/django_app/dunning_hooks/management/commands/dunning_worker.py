"""``python manage.py dunning_worker``: carry the runs on until SIGTERM.

It runs every due run (``engine.run_due()``), then sleeps until work may be there
(``engine.wait_for_work``: LISTEN/NOTIFY on PostgreSQL, a change of the file on SQLite, the
next wait that falls due), at most ``--idle`` seconds, and again. SIGTERM or Ctrl-C ends the
loop cleanly: the run in progress goes on to its next wait and is saved, and no other run is
claimed. ``--once`` makes one
pass and exits (for cron). Start as many as you like on one PostgreSQL database.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...engine import close_engine, get_engine


class Command(BaseCommand):
    help = "Carry on the dunning runs whose wait is over, until SIGTERM (or once, with --once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument(
            "--idle", type=float, default=5.0, help="longest sleep between passes, in seconds"
        )

    def handle(self, *args: Any, once: bool = False, idle: float = 5.0, **options: Any) -> None:
        stop = threading.Event()
        previous = {}
        if not once:
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, lambda *_: stop.set())
            self.stdout.write("dunning worker started")
        carried = 0
        try:
            engine = get_engine()
            while not stop.is_set():
                outcomes = engine.run_due(stop=stop.is_set)  # once stopped, no other run
                if outcomes:
                    steps = sum(len(o.actions) for o in outcomes)
                    self.stdout.write(f"carried on {len(outcomes)} runs, {steps} steps")
                    carried += len(outcomes)
                if once:
                    break
                if not stop.is_set():
                    engine.wait_for_work(idle)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            close_engine()
        self.stdout.write(f"dunning worker stopped after {carried} runs")

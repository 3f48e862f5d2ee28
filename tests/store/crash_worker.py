"""A worker process for the crash tests: it handles an event or runs due runs, and its
adapters log every delivery into a separate SQLite file. ``CRASH=<type>:<before|after>`` makes
the adapter of that step type kill the process with SIGKILL just before or just after its
delivery, once (a marker file remembers that it did).

    python crash_worker.py STORE_URL LOG_PATH CLOCK_ISO handle EVENT.json
    python crash_worker.py STORE_URL LOG_PATH CLOCK_ISO run-due
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import sys
from typing import Any

import dunning_rules as dr

RULES = """
version: 1
rules:
  - name: flow
    on: invoice.payment_failed
    cancel_on: [invoice.paid]
    actions:
      - {type: email, to: "{{ data.object.customer_email }}", text: hi}
      - {type: sms, to: "{{ data.object.customer_phone }}", body: hi}
      - {type: wait, duration: 3d}
      - {type: slack, channel: "#x", text: hi}
"""


def main() -> None:
    store_url, log_path, clock_iso, mode = sys.argv[1:5]
    crash = os.environ.get("CRASH", "")
    marker = log_path + ".crashed"
    log = sqlite3.connect(log_path, isolation_level=None)
    log.execute("CREATE TABLE IF NOT EXISTS deliveries (type TEXT, run_id TEXT, key TEXT)")

    def adapter(kind: str) -> Any:
        def deliver(params: dict[str, Any], ctx: dr.ActionContext) -> dict[str, Any]:
            should_crash = crash.startswith(kind + ":") and not os.path.exists(marker)
            if should_crash and crash.endswith(":before"):
                open(marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
            log.execute(
                "INSERT INTO deliveries VALUES (?, ?, ?)", (kind, ctx.run_id, ctx.idempotency_key)
            )
            if should_crash and crash.endswith(":after"):
                open(marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
            return {"delivered": kind}

        return deliver

    moment = dt.datetime.fromisoformat(clock_iso)
    engine = dr.Engine(
        dr.load_rules(RULES),
        adapters={k: adapter(k) for k in ("email", "sms", "slack")},
        store=store_url,
        clock=lambda: moment,
    )
    if mode == "handle":
        with open(sys.argv[5], encoding="utf-8") as handle:
            engine.handle(json.load(handle))
    else:
        engine.run_due()
    engine.close()


if __name__ == "__main__":
    main()

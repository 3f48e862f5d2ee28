"""A worker process for the many-workers test: run every due run of RULES on a PostgreSQL
store; each step inserts (run id, step) into a table with a primary key, so a step run twice
fails loudly. Prints how many steps this worker ran.

    python pg_worker.py STORE_URL CLOCK_ISO
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import psycopg

import dunning_rules as dr

RULES = """
version: 1
rules:
  - name: three-steps
    on: invoice.payment_failed
    actions:
      - {type: wait, duration: 1m}
      - {type: step, n: 1}
      - {type: step, n: 2}
      - {type: step, n: 3}
"""


def main() -> None:
    url, clock_iso = sys.argv[1:3]
    moment = dt.datetime.fromisoformat(clock_iso)
    conn = psycopg.connect(url, autocommit=True)

    def step(params: dict[str, Any], ctx: dr.ActionContext) -> dict[str, Any]:
        conn.execute(
            "INSERT INTO deliveries (run_id, step, key) VALUES (%s, %s, %s)",
            (ctx.run_id, params["n"], ctx.idempotency_key),
        )
        return {"n": params["n"]}

    engine = dr.Engine(
        dr.load_rules(RULES), adapters={"step": step}, store=url, clock=lambda: moment
    )
    outcomes = engine.run_due()
    print(sum(len(o.actions) for o in outcomes))
    engine.close()


if __name__ == "__main__":
    main()

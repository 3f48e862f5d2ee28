"""Durable runs through the command line and Slack: run-due, history, approvals by button."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

import dunning_rules as dr
from dunning_rules._slack import approval_value
from dunning_rules.actions.base import approval_nonce
from dunning_rules.cli import main
from dunning_rules.testing import FixedClock, RecordingAdapter
from tests.paths import FIXTURES

EVENT = FIXTURES / "stripe" / "events" / "invoice.payment_failed.json"
RULES = """version: 1
rules:
  - name: flow
    on: invoice.payment_failed
    actions:
      - {type: wait, duration: 1s}
      - type: http
        url: "http://127.0.0.1:9/unused"
        json: {token: "{{ data.object.id }}"}
        when: "`false`"
      - {type: guard, when: "data.object.customer_email"}
"""


def test_import_is_light():
    """`import dunning_rules` loads neither stripe nor litellm (nor psycopg)."""
    code = (
        "import sys, dunning_rules; "
        "print(sorted(m for m in ('stripe', 'litellm', 'psycopg') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_run_due_and_history_on_a_sqlite_store(tmp_path):
    """A run saved by one engine is finished by `dunning-rules run-due` and listed by history."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    engine = dr.Engine(dr.load_rules(str(rules)), store=url)
    (run,) = engine.handle(json.loads(EVENT.read_text())).runs
    assert run.status == "waiting"
    engine.close()
    time.sleep(1.1)
    out = io.StringIO()
    assert main(["run-due", str(rules), "--store", url], out=out) == 0
    assert out.getvalue().strip() == "resumed 1 runs, 2 steps"
    out = io.StringIO()
    assert main(["history", "--store", url, "--json"], out=out) == 0
    (listed,) = json.loads(out.getvalue())
    assert listed["status"] == "completed"
    assert [s["status"] for s in listed["steps"]] == ["ok", "skipped", "ok"]
    assert listed["steps"][1]["params"] is None
    out = io.StringIO()
    assert main(["history", "--store", url, "--status", "completed"], out=out) == 0
    assert f"{run.id}  rule flow  key in_1Pgc6tB7WZ01zgkWu9fdqL6I  completed" in out.getvalue()


def test_history_redacts_secret_looking_params(tmp_path):
    """Params with keys like token or password are shown as [redacted]."""
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    text = RULES.replace('when: "`false`"', 'when: "`true`"')
    http = RecordingAdapter(output={"status": 200})
    engine = dr.Engine(dr.load_rules(text), store=url, adapters={"http": http})
    engine.handle(json.loads(EVENT.read_text()))
    engine.run_due(now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5))
    engine.close()
    out = io.StringIO()
    assert main(["history", "--store", url, "--json"], out=out) == 0
    (listed,) = json.loads(out.getvalue())
    assert listed["steps"][1]["params"]["json"] == {"token": "[redacted]"}
    assert http.params[0]["json"] == {"token": "in_1Pgc6tB7WZ01zgkWu9fdqL6I"}


def test_run_due_loop_stops_cleanly_on_sigterm(tmp_path):
    """`run-due --loop` exits 0 soon after SIGTERM, between rounds."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dunning_rules",
            "run-due",
            str(rules),
            "--store",
            url,
            "--loop",
            "--interval",
            "1s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err


def test_bad_interval_is_a_usage_error(tmp_path, capsys):
    """`--interval soon` exits 2 with a message."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    code = main(["run-due", str(rules), "--store", "memory:", "--interval", "soon"])
    assert code == 2
    assert "--interval" in capsys.readouterr().err


SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
APPROVAL = """version: 1
rules:
  - name: ask
    on: invoice.payment_failed
    actions:
      - {type: approval, channel: "#billing", text: "Send the reminder?"}
      - {type: email, to: x@example.com, subject: s, text: t}
"""


def slack_request(run_id: str, action: str, at: dt.datetime) -> tuple[bytes, dict[str, str]]:
    value = approval_value(run_id, 0, approval_nonce(run_id, 0))
    payload = {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "ana"},
        "actions": [{"action_id": action, "value": value, "type": "button"}],
    }
    body = ("payload=" + urllib.parse.quote(json.dumps(payload))).encode()
    stamp = str(int(at.timestamp()))
    digest = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return body, headers


@pytest.mark.parametrize(
    ("action", "status", "emails"),
    [("dunning_approve", "completed", 1), ("dunning_reject", "cancelled", 0)],
    ids=["approve", "reject"],
)
def test_a_slack_button_answers_the_approval(action, status, emails):
    """A signed block_actions request resumes the run named by the button, recording who."""
    clock = FixedClock()
    email = RecordingAdapter()
    engine = dr.Engine(
        dr.load_rules(APPROVAL),
        adapters={"approval": RecordingAdapter(), "email": email},
        clock=clock,
    )
    (run,) = engine.handle(json.loads(EVENT.read_text())).runs
    body, headers = slack_request(run.id, action, clock.now)
    outcome = engine.handle_slack_interaction(body, headers, SECRET)
    (done,) = outcome.runs
    assert done.status == status
    assert done.approval["by"] == "U024BE7LH"
    assert len(email.calls) == emails


def test_a_replayed_or_forged_slack_request_is_refused():
    """Older than five minutes, or signed with another secret: SignatureError, run untouched."""
    clock = FixedClock()
    engine = dr.Engine(
        dr.load_rules(APPROVAL),
        adapters={"approval": RecordingAdapter(), "email": RecordingAdapter()},
        clock=clock,
    )
    (run,) = engine.handle(json.loads(EVENT.read_text())).runs
    body, headers = slack_request(run.id, "dunning_approve", clock.now - dt.timedelta(minutes=6))
    with pytest.raises(dr.SignatureError, match="older than 5 minutes"):
        engine.handle_slack_interaction(body, headers, SECRET)
    body, headers = slack_request(run.id, "dunning_approve", clock.now)
    with pytest.raises(dr.SignatureError, match="does not match"):
        engine.handle_slack_interaction(body, headers, "another-secret")
    assert engine.runs()[0].status == "awaiting_approval"


def test_the_readme_has_exactly_two_setup_commands():
    """README: one command runs the example, one runs the whole test suite."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    commands = [b for b in readme.split("```sh\n")[1:]]
    assert len(commands) == 2
    assert "dunning-rules simulate examples/smart_dunning.yaml" in commands[0]
    assert commands[1].startswith("bash .ci/test.sh")
    assert "bash .ci/test.sh" in (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()

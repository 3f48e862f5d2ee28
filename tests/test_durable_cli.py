"""Durable runs through the command line and Slack: run-due, history, approvals by button."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
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
    assert out.getvalue().strip() == "resumed 1 run, 2 steps"
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


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_run_due_loop_stops_cleanly_on_a_signal(tmp_path, stop):
    """`run-due --loop` exits 0 soon after SIGTERM or Ctrl-C (SIGINT), cutting its wait
    short, and says so; no traceback."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "dunning_rules", "run-due", str(rules)),
            *("--store", url, "--loop", "--interval", "60s"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # printed once the signal handlers are in place
    assert first == "working; waiting at most 60s between rounds; SIGTERM or Ctrl-C stops\n"
    time.sleep(0.3)  # into the idle wait
    stopped = time.monotonic()
    proc.send_signal(stop)
    rest, err = proc.communicate(timeout=20)
    assert (proc.returncode, err) == (0, "")
    assert time.monotonic() - stopped < 10  # not the 60s interval
    assert rest == "stopped; in all: resumed 0 runs, 0 steps\n"


def test_bad_interval_is_a_usage_error(tmp_path, capsys):
    """`--interval soon` exits 2 with a message."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    code = main(["run-due", str(rules), "--store", "memory:", "--interval", "soon"])
    assert code == 2
    assert "--interval" in capsys.readouterr().err


# --- run-due: the moment, the app's own engine, failures, the loop ---------------------------


DAILY = RULES.replace("duration: 1s", "duration: 1d")


def waiting_run(tmp_path, rules_text=DAILY):
    """A rules file and a SQLite store holding one run that waits for a day from now."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(rules_text)
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    engine = dr.Engine(dr.load_rules(str(rules)), store=url)
    (run,) = engine.handle(json.loads(EVENT.read_text())).runs
    engine.close()
    return rules, url, run


def test_run_due_at_resumes_what_is_due_at_that_moment(tmp_path):
    """`--at` is the moment given to run_due: a run due tomorrow is resumed with --at in two
    days, and not without it."""
    rules, url, run = waiting_run(tmp_path)
    out = io.StringIO()
    assert main(["run-due", str(rules), "--store", url], out=out) == 0
    assert out.getvalue() == "resumed 0 runs, 0 steps\n"
    later = (run.next_at + dt.timedelta(days=1)).isoformat()
    out = io.StringIO()
    assert main(["run-due", str(rules), "--store", url, "--at", later], out=out) == 0
    assert out.getvalue() == "resumed 1 run, 2 steps\n"


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    """The SQLite file of tests/cli_app.py, in tmp_path, with one run waiting from START; the
    app's email adapter is a fresh RecordingAdapter, and sys.path / sys.modules are restored."""
    from tests import cli_app

    path = tmp_path / "app.db"
    monkeypatch.setenv(cli_app.DB_ENV, str(path))
    monkeypatch.setattr(cli_app, "EMAIL", RecordingAdapter(output={"id": "msg_1"}))
    monkeypatch.setattr(sys, "path", list(sys.path))
    engine = cli_app.build(
        f"sqlite:///{path}", email=RecordingAdapter(), clock=FixedClock(cli_app.START)
    )
    (run,) = engine.handle(json.loads(EVENT.read_text())).runs
    assert run.status == "waiting"
    engine.close()
    return cli_app


def test_run_due_engine_uses_the_apps_adapter_store_and_clock(app_db):
    """`--engine tests.cli_app:make_engine` resumes the run with the app's email adapter, on
    its store, at its clock (the wall clock is years before the run falls due)."""
    out = io.StringIO()
    assert main(["run-due", "--engine", "tests.cli_app:make_engine"], out=out) == 0
    assert out.getvalue() == "resumed 1 run, 1 step\n"
    assert app_db.EMAIL.params == [
        {"to": "jenny.rosen@example.com", "subject": "Reminder", "text": "Pay"}
    ]


def test_run_due_engine_may_name_an_engine_object(app_db, monkeypatch):
    """`--engine module:attribute` also takes an Engine itself, not only a factory."""
    monkeypatch.setattr(app_db, "engine", app_db.make_engine(), raising=False)
    out = io.StringIO()
    assert main(["run-due", "--engine", "tests.cli_app:engine"], out=out) == 0
    assert out.getvalue() == "resumed 1 run, 1 step\n"
    assert len(app_db.EMAIL.calls) == 1


def test_run_due_counts_failures_and_exits_1(app_db, monkeypatch):
    """A failed step and the run it failed are counted and listed; the exit status is 1."""
    failing = RecordingAdapter(fail_times=1, retryable=False)
    monkeypatch.setattr(app_db, "EMAIL", failing)
    out = io.StringIO()
    assert main(["run-due", "--engine", "tests.cli_app:make_engine"], out=out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == "resumed 1 run, 1 step: 1 step failed, 1 run failed"
    assert lines[1].startswith("  failed step: run run_")
    assert lines[1].endswith("rule remind  step 1 (email): recorded failure 1 of 1")
    assert lines[2].startswith("  failed run: run run_")
    assert len(lines) == 3
    assert len(failing.calls) == 1


def test_run_due_engine_module_is_found_in_the_current_directory(tmp_path, monkeypatch):
    """The --engine module is imported from the current directory, as `python -m` does,
    even when that directory is not on sys.path."""
    (tmp_path / "billing_worker_h.py").write_text(
        "import dunning_rules as dr\n"
        "engine = dr.Engine(dr.load_rules('version: 1\\nrules: []\\n'))\n"
    )
    monkeypatch.chdir(tmp_path)
    here = {"", ".", str(tmp_path)}
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in here])
    monkeypatch.delitem(sys.modules, "billing_worker_h", raising=False)
    out = io.StringIO()
    try:
        assert main(["run-due", "--engine", "billing_worker_h:engine"], out=out) == 0
    finally:
        sys.modules.pop("billing_worker_h", None)
    assert out.getvalue() == "resumed 0 runs, 0 steps\n"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tests.cli_app", "--engine 'tests.cli_app': use module:attribute"),
        ("no_such_app_h:engine", "--engine no_such_app_h:engine: no module named"),
        ("tests.cli_app:nothing", "module 'tests.cli_app' has no attribute 'nothing'"),
        ("tests.cli_app:RULES", "RULES is a str, not an Engine or a function that returns one"),
        ("tests.cli_app:build", "build() needs arguments; it must take none"),
        ("tests.cli_app:make_rules", "make_rules() returned a RuleSet, not an Engine"),
    ],
    ids=["no-colon", "no-module", "no-attribute", "not-callable", "needs-args", "not-engine"],
)
def test_run_due_engine_that_names_no_engine_exits_2(app_db, capsys, spec, message):
    """An --engine that does not lead to an Engine is bad usage: exit 2, saying why."""
    assert main(["run-due", "--engine", spec]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run-due", "rules.yaml"], "run-due needs FILE... --store URL, or --engine"),
        (["run-due", "--store", "sqlite:///x.db"], "run-due needs FILE... --store URL"),
        (
            ["run-due", "rules.yaml", "--engine", "tests.cli_app:make_engine"],
            "give either FILE... --store URL or --engine module:attribute",
        ),
        (["run-due", "rules.yaml", "--store", "memory:"], "--store memory: is empty"),
        (["run-due", "rules.yaml", "--store", "mysql://x"], "is not a store URL"),
        (
            ["run-due", "rules.yaml", "--store", "sqlite:///x.db", "--interval", "0s"],
            "--interval: 0s",
        ),
        (
            ["run-due", "rules.yaml", "--store", "sqlite:///x.db", "--interval", "99999999999w"],
            "--interval: 99999999999w is longer than the longest duration allowed",
        ),
        (
            ["run-due", "rules.yaml", "--store", "sqlite:///x.db", "--at", "99999-01-01"],
            "--at '99999-01-01' is not an ISO 8601 time",
        ),
        (
            ["run-due", "rules.yaml", "--store", "sqlite:///x.db", "--at", "9000-01-01"],
            "--at '9000-01-01' is out of bounds",
        ),
        (
            ["run-due", "rules.yaml", "--store", "sqlite:///x.db", "--at", "1999-12-31T23:00Z"],
            "--at '1999-12-31T23:00Z' is out of bounds",
        ),
        (
            ["run-due", "--engine", "a:b", "--loop", "--at", "2030-01-01"],
            "--at fixes one moment: it cannot go with --loop",
        ),
    ],
    ids=[
        "no-store",
        "no-files",
        "files-and-engine",
        "memory-store",
        "unknown-store",
        "zero-interval",
        "huge-interval",
        "five-digit-year",
        "year-9000",
        "year-1999",
        "at-with-loop",
    ],
)
def test_run_due_bad_usage_exits_2(tmp_path, monkeypatch, capsys, args, message):
    """Wrong combinations and out-of-bounds values exit 2, naming the option; nothing runs."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules.yaml").write_text(DAILY)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("dunning-rules: error: ")
    assert message in err
    assert not (tmp_path / "x.db").exists()


NOW_RULES = """version: 1
rules:
  - name: notify
    on: invoice.payment_failed
    actions:
      - {type: email, to: x@example.com, subject: s, text: t}
"""


def wait_until(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def feed_and_stop(engine, out, events):
    """In a thread: once the loop works, defer each event into ``engine``'s store, wait
    until the loop reports it, then send SIGTERM to this process (always, so no test hangs)."""

    def work():
        try:
            wait_until(lambda: "working" in out.getvalue())
            time.sleep(0.2)  # into the idle wait
            for event in events:
                engine.handle(event, defer=True)
            wait_until(lambda: "resumed" in out.getvalue())
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def test_run_due_loop_wakes_for_a_deferred_run_and_stops_on_sigterm(monkeypatch):
    """`--loop` waits with engine.wait_for_work: a run deferred into the store is resumed long
    before the 60s interval, and SIGTERM then ends the loop with exit 0 and a total."""
    from tests import cli_app

    email = RecordingAdapter()
    engine = dr.Engine(dr.load_rules(NOW_RULES), adapters={"email": email})
    monkeypatch.setattr(cli_app, "engine", engine, raising=False)
    out = io.StringIO()
    before = signal.getsignal(signal.SIGTERM)
    thread = feed_and_stop(engine, out, [json.loads(EVENT.read_text())])
    started = time.monotonic()
    args = ["run-due", "--engine", "tests.cli_app:engine", "--loop", "--interval", "60s"]
    code = main(args, out=out)
    thread.join()
    assert code == 0
    assert time.monotonic() - started < 30
    assert out.getvalue().splitlines()[1:] == [
        "resumed 1 run, 1 step",
        "stopped; in all: resumed 1 run, 1 step",
    ]
    assert len(email.calls) == 1
    assert signal.getsignal(signal.SIGTERM) == before  # the handlers are put back


@pytest.fixture
def postgres_url():
    """A URL of the test PostgreSQL server whose connections use a new, empty schema."""
    url = os.environ.get("DUNNING_RULES_TEST_POSTGRES", "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests: set DUNNING_RULES_TEST_POSTGRES")
        pytest.skip("no PostgreSQL server: set DUNNING_RULES_TEST_POSTGRES")
    psycopg = pytest.importorskip("psycopg")
    schema = f"test_cli_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_run_due_loop_on_postgres_wakes_on_notify(postgres_url, monkeypatch):
    """On PostgreSQL, a run deferred by another engine (another process's store) wakes the
    `--loop` worker through LISTEN/NOTIFY, long before the 60s interval."""
    from tests import cli_app

    email = RecordingAdapter()
    worker = dr.Engine(dr.load_rules(NOW_RULES), adapters={"email": email}, store=postgres_url)
    web = dr.Engine(dr.load_rules(NOW_RULES), adapters={"email": email}, store=postgres_url)
    monkeypatch.setattr(cli_app, "engine", worker, raising=False)
    out = io.StringIO()
    thread = feed_and_stop(web, out, [json.loads(EVENT.read_text())])
    started = time.monotonic()
    args = ["run-due", "--engine", "tests.cli_app:engine", "--loop", "--interval", "60s"]
    try:
        code = main(args, out=out)
        thread.join()
    finally:
        web.close()
    assert (code, time.monotonic() - started < 30) == (0, True)
    assert out.getvalue().splitlines()[1] == "resumed 1 run, 1 step"
    assert len(email.calls) == 1


# --- history: failures, warnings, times, limits, a missing file ------------------------------


def many_runs(tmp_path, count, *, adapter=None, clock=None):
    """A SQLite store with ``count`` completed runs (one per invoice), and its URL."""
    tmp_path.mkdir(exist_ok=True)
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    engine = dr.Engine(
        dr.load_rules(NOW_RULES),
        adapters={"email": adapter or RecordingAdapter()},
        store=url,
        clock=clock,
    )
    base = json.loads(EVENT.read_text())
    for number in range(count):
        event = json.loads(json.dumps(base))
        event["id"] = f"evt_h{number}"
        event["data"]["object"]["id"] = f"in_h{number}"
        engine.handle(event)
    engine.close()
    return url


def test_history_text_shows_failed_steps_their_errors_and_warnings(tmp_path, capsys):
    """The text view says how many steps failed, and prints each error and warning under
    its step."""

    def respond(params, ctx):
        ctx.warn("the template named no customer")
        return {"id": "msg_1"}

    warned = many_runs(tmp_path / "a", 1, adapter=RecordingAdapter(respond=respond))
    assert main(["history", "--store", warned]) == 0
    text = capsys.readouterr().out
    assert "\n     warning: the template named no customer\n" in text
    failed = many_runs(tmp_path / "b", 1, adapter=RecordingAdapter(fail_times=1, retryable=False))
    assert main(["history", "--store", failed]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:3] == [
        "  reason: step 0 (email) failed: recorded failure 1 of 1",
        "  1 step failed",
    ]
    assert lines[4].split()[:3] == ["0", "email", "failed"]
    assert lines[5] == "     error: recorded failure 1 of 1"


def test_history_shows_how_long_a_step_took(tmp_path, capsys):
    """A step whose start and finish times differ shows its duration in the took column."""
    clock = FixedClock()
    slow = RecordingAdapter(respond=lambda params, ctx: clock.advance(seconds=2.5) and None)
    url = many_runs(tmp_path, 1, adapter=slow, clock=clock)
    assert main(["history", "--store", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["#", "step", "status", "took", "params"]
    assert lines[2].split()[:4] == ["0", "email", "ok", "2.5s"]


def test_history_says_when_it_stops_short(tmp_path, capsys):
    """With more runs than --limit, the text view ends by saying how many it showed of how
    many; --limit 0 shows them all, with no such line."""
    url = many_runs(tmp_path, 3)
    assert main(["history", "--store", url, "--limit", "2"]) == 0
    text = capsys.readouterr().out
    assert text.count("  rule notify  ") == 2
    assert text.endswith("\nshowing 2 of 3 runs; use --limit N for more (0 = all)\n")
    assert main(["history", "--store", url, "--limit", "0"]) == 0
    text = capsys.readouterr().out
    assert text.count("  rule notify  ") == 3
    assert "showing" not in text


def test_history_json_says_it_stops_short_on_stderr(tmp_path, capsys):
    """With --json the runs stay valid JSON on stdout; the 'showing' line goes to stderr."""
    url = many_runs(tmp_path, 3)
    assert main(["history", "--store", url, "--limit", "1", "--json"]) == 0
    captured = capsys.readouterr()
    assert [r["key"] for r in json.loads(captured.out)] == ["in_h2"]
    assert captured.err == "showing 1 of 3 runs; use --limit N for more (0 = all)\n"


def test_history_refuses_a_sqlite_file_that_does_not_exist(tmp_path, capsys):
    """A --store sqlite:/// path with no file is bad usage (a typo), and no file is made."""
    missing = tmp_path / "typo.db"
    assert main(["history", "--store", f"sqlite:///{missing}"]) == 2
    assert capsys.readouterr().err == (
        f"dunning-rules: error: no such database file: {missing}; run-due or your app creates it\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--status", "bogus"],
            "argument --status: invalid choice: 'bogus' (choose from "
            "'completed', 'waiting', 'awaiting_approval', 'cancelled', 'failed')",
        ),
        (["--limit", "-1"], "--limit -1: give a number of runs, or 0 for all"),
        (["--limit", "many"], "argument --limit: invalid int value: 'many'"),
    ],
    ids=["unknown-status", "negative-limit", "limit-not-a-number"],
)
def test_history_bad_filters_exit_2(tmp_path, capsys, args, message):
    """An unknown --status (the error lists the statuses) or a bad --limit exits 2."""
    url = many_runs(tmp_path, 1)
    assert main(["history", "--store", url, *args]) == 2
    assert message in capsys.readouterr().err


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
    [("dunning_approve", "waiting", 0), ("dunning_reject", "cancelled", 0)],
    ids=["approve", "reject"],
)
def test_a_slack_button_answers_the_approval(action, status, emails):
    """A signed block_actions request answers the approval named by the button, recording
    who; an approved run is left due for a worker (Slack wants its answer within 3 s)."""
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
    """README's "Set up": one command runs the example, one runs the whole test suite."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    setup = readme.split("\n## Set up\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```(sh|console)\n(.*?)^```", setup, re.S | re.M)
    commands = [
        line.removeprefix("$ ")
        for kind, text in blocks
        for line in text.splitlines()
        if kind == "sh" or line.startswith("$ ")
    ]
    assert len(commands) == 2, commands
    assert commands[0].startswith("python3 -m venv .venv && ")
    assert "dunning-rules simulate examples/smart_dunning.yaml" in commands[0]
    assert commands[1] == "bash .ci/test.sh"
    assert "bash .ci/test.sh" in (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()

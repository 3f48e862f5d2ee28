"""The ``dunning-rules`` command: validate, simulate, schema and --help, with click's exit
codes; a closed output pipe ends quietly."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dunning_rules.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = str(ROOT / "examples" / "smart_dunning.yaml")
EVENTS = ROOT / "examples" / "events"
SCHEMA = ROOT / "schemas" / "rules.schema.json"
AT = "2026-01-01T00:00:00Z"


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, out.getvalue()


BAD_RULES = """\
version: 1
rules:
  - name: a
    on: invoice.payment_failed
    when: "data.object.amount_due > > `1`"
    actions: [{type: wait, duration: 2 days}]
"""


# --- validate ----------------------------------------------------------------------------------


def test_validate_the_example_exits_0(capsys):
    """validate on the example prints a summary and exits 0, with nothing on stderr."""
    code, out = run("validate", EXAMPLE)
    assert (code, out) == (0, "ok: 2 rules in 1 file\n")
    assert capsys.readouterr().err == ""


def test_validate_several_files_counts_them(tmp_path):
    """validate counts the rules of every file it is given."""
    other = tmp_path / "other.yaml"
    other.write_text(
        "version: 1\nrules:\n"
        "  - {name: x, on: invoice.paid, actions: [{type: wait, duration: 1d}]}\n",
        encoding="utf-8",
    )
    assert run("validate", EXAMPLE, str(other)) == (0, "ok: 3 rules in 2 files\n")


def test_validate_a_bad_file_prints_every_problem_and_exits_1(tmp_path, capsys):
    """validate on a bad file prints every problem, carets included, to stderr; exit 1."""
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_RULES, encoding="utf-8")
    code, out = run("validate", str(path))
    assert (code, out) == (1, "")
    assert capsys.readouterr().err == (
        f"{path}:5:37: $.rules[0].when: rule 'a': invalid expression: invalid token at '>'\n"
        '        when: "data.object.amount_due > > `1`"\n'
        "                                        ^\n"
        f"{path}:6:38: $.rules[0].actions[0].duration: rule 'a': not a duration: '2 days' "
        "(use a number and s, m, h, d or w: '3d')\n"
        "2 problems found\n"
    )


def test_validate_a_missing_file_exits_1(tmp_path, capsys):
    """validate on a file that does not exist reports it and exits 1."""
    missing = tmp_path / "missing.yaml"
    assert run("validate", str(missing)) == (1, "")
    assert capsys.readouterr().err == (
        f"{missing}:1:1: $: cannot read the file: No such file or directory\n1 problem found\n"
    )


def test_validate_an_unknown_step_type_exits_1(tmp_path, capsys):
    """validate builds the engine, so a step type without adapter is a problem too."""
    path = tmp_path / "typo.yaml"
    path.write_text(
        "version: 1\nrules:\n  - {name: a, on: invoice.paid, actions: [{type: emial}]}\n",
        encoding="utf-8",
    )
    assert run("validate", str(path)) == (1, "")
    err = capsys.readouterr().err
    assert err.startswith(
        f"{path}:3:50: $.rules[0].actions[0].type: rule 'a': "
        "no adapter for step type 'emial' (did you mean 'email'?)"
    )
    assert err.endswith("\n1 problem found\n")


WARNED_RULES = """\
version: 1
rules:
  - name: a
    on: invoice.payment_faild
    cancel_on: [invoice.paid]
    actions:
      - {type: slack, text: "Dear {{ data.object.custmer_name }}"}
  - name: b
    on: invoice.payment_failed
    actions:
      - {type: slack, text: "Dear {{ data.object.custmer_name }}"}
"""


def test_validate_prints_warnings_and_counts_them_and_exits_0(tmp_path, capsys):
    """Warnings are printed under `warning:` at their place, the summary counts them; exit 0."""
    path = tmp_path / "warned.yaml"
    path.write_text(WARNED_RULES, encoding="utf-8")
    code, out = run("validate", str(path))
    assert (code, out) == (
        0,
        f"warning: {path}:4:9: $.rules[0].on: rule 'a': Stripe sends no event of type "
        "'invoice.payment_faild'; did you mean 'invoice.payment_failed'? [unknown-event-type]\n"
        f"warning: {path}:11:38: $.rules[1].actions[0].text: rule 'b': "
        "data.object.custmer_name: no field 'custmer_name' in Invoice (invoice.payment_failed); "
        "did you mean 'customer_name'? [unknown-field]\n"
        "ok: 2 rules in 1 file, 2 warnings\n",
    )
    assert capsys.readouterr().err == ""


def test_validate_prints_the_warnings_beside_the_errors(tmp_path, capsys):
    """A file with an error and warnings: the errors, then the warnings found in the same pass,
    and a summary that counts both; exit 1. Nothing waits for the next run to be seen."""
    path = tmp_path / "both.yaml"
    path.write_text(WARNED_RULES + '    when: "data.object.amount_due > > `1`"\n', "utf-8")
    assert run("validate", str(path)) == (1, "")
    assert capsys.readouterr().err == (
        f"{path}:12:37: $.rules[1].when: rule 'b': invalid expression: invalid token at '>'\n"
        '        when: "data.object.amount_due > > `1`"\n'
        f"{' ' * 40}^\n"
        f"warning: {path}:4:9: $.rules[0].on: rule 'a': Stripe sends no event of type "
        "'invoice.payment_faild'; did you mean 'invoice.payment_failed'? [unknown-event-type]\n"
        f"warning: {path}:11:38: $.rules[1].actions[0].text: rule 'b': "
        "data.object.custmer_name: no field 'custmer_name' in Invoice (invoice.payment_failed); "
        "did you mean 'customer_name'? [unknown-field]\n"
        "1 problem found, 2 warnings\n"
    )


def test_an_unknown_step_type_comes_with_the_files_warnings(tmp_path, capsys):
    """The engine's own problems (a step type with no adapter) keep the loader's warnings."""
    path = tmp_path / "both.yaml"
    path.write_text(WARNED_RULES.replace("type: slack", "type: slak", 1), "utf-8")
    assert run("validate", str(path)) == (1, "")
    err = capsys.readouterr().err
    assert "no adapter for step type 'slak'" in err
    assert "[unknown-event-type]\n" in err
    assert "[unknown-field]\n" in err
    assert err.endswith("\n1 problem found, 2 warnings\n")


def test_validate_strict_exits_1_on_warnings(tmp_path):
    """--strict fails on warnings, and says so in the summary."""
    path = tmp_path / "warned.yaml"
    path.write_text(WARNED_RULES, encoding="utf-8")
    code, out = run("validate", "--strict", str(path))
    assert code == 1
    assert out.splitlines()[-1] == "2 rules in 1 file, 2 warnings: --strict fails on warnings"


def test_validate_strict_exits_0_without_warnings():
    """--strict on a file without warnings is the same as without it."""
    assert run("validate", "--strict", EXAMPLE) == (0, "ok: 2 rules in 1 file\n")


def test_validate_reports_a_step_that_names_no_earlier_step(tmp_path, capsys):
    """A `steps.<id>` that names no earlier step is an error: exit 1, on stderr."""
    path = tmp_path / "steps.yaml"
    path.write_text(
        "version: 1\nrules:\n  - name: a\n    on: invoice.paid\n    actions:\n"
        '      - {type: slack, text: "{{ steps.draft.text }}"}\n',
        encoding="utf-8",
    )
    assert run("validate", str(path)) == (1, "")
    assert capsys.readouterr().err == (
        f"{path}:6:33: $.rules[0].actions[0].text: rule 'a': steps.draft names no earlier "
        "step of rule 'a'; no earlier step has an id\n1 problem found\n"
    )


@pytest.mark.parametrize(
    "args",
    [[], ["validate"], ["simulate", EXAMPLE], ["frobnicate"]],
    ids=["no-command", "validate-no-files", "simulate-no-event", "unknown-command"],
)
def test_bad_usage_exits_2(args, capsys):
    """A missing command, file or option exits 2 with argparse's usage on stderr."""
    code, out = run(*args)
    assert (code, out) == (2, "")
    assert "usage: dunning-rules" in capsys.readouterr().err


# --- simulate ----------------------------------------------------------------------------------


def test_simulate_prints_the_plan_as_a_table():
    """simulate prints the event, each run with its status, and a table of its steps."""
    code, out = run(
        "simulate", EXAMPLE, "--event", str(EVENTS / "invoice.payment_failed.vip.json"), "--at", AT
    )
    assert code == 0
    assert out == (
        "event evt_1PgdA1B7WZ01zgkWdunnVIP1 (invoice.payment_failed)\n"
        "\n"
        "run 1: rule vip-card-declined  key in_1PgdVIPB7WZ01zgkWvip0001  -> completed\n"
        "  #  step             status   params\n"
        "  0  slack            planned  channel=#billing-vip  text=URGENT: VIP customer Globex "
        "Corporation (ap@globex.example) failed to…\n"
        "  1  ticket (ticket)  planned  provider=asana  project=1200000000000001  "
        "title=Call Globex Corporation: payment of $750.00 failed  "
        "body=Invoice: https://invoice.stripe.com/i/acct_TEST/test_PLACEHOLDER Cust…\n"
    )


def test_simulate_shows_when_a_run_would_wait():
    """A run that would wait shows until when, from the --at clock."""
    code, out = run(
        "simulate", EXAMPLE, "--event", str(EVENTS / "invoice.payment_failed.json"), "--at", AT
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[2] == (
        "run 1: rule standard-card-declined  key in_1Pgc6tB7WZ01zgkWu9fdqL6I  "
        "-> waiting until 2026-01-04T00:00:00+00:00"
    )
    assert [line.split()[1] for line in lines[4:]] == [
        "stripe.invoice",
        "guard",
        "llm",
        "email",
        "wait",
        "stripe.invoice",
        "guard",
        "sms",
    ]


def test_simulate_says_what_a_payment_cancels_and_that_nothing_matched():
    """An event that no rule matches prints what it cancels, then 'no rule matched'."""
    code, out = run("simulate", EXAMPLE, "--event", str(EVENTS / "invoice.paid.json"))
    assert (code, out) == (
        0,
        "event evt_1PgdA1B7WZ01zgkWdunn0003 (invoice.paid)\n"
        "cancels the live run of rule vip-card-declined  key in_1Pgc6tB7WZ01zgkWu9fdqL6I, if any\n"
        "cancels the live run of rule standard-card-declined  key in_1Pgc6tB7WZ01zgkWu9fdqL6I,"
        " if any\n"
        "no rule matched\n",
    )


def test_simulate_exits_1_when_a_step_would_fail(tmp_path):
    """A step whose parameters cannot be rendered is shown failed, warned about, exit 1."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\nrules:\n  - name: r\n    on: invoice.payment_failed\n    actions:\n"
        '      - type: http\n        url: "https://x.example"\n'
        '        json: {n: "{{ abs(data.object.currency) }}"}\n'
    )
    code, out = run("simulate", str(rules), "--event", str(EVENTS / "invoice.payment_failed.json"))
    assert code == 1
    assert "-> failed" in out
    assert "warning: rule 'r' step 0 (http) would fail" in out


def test_simulate_json_prints_the_outcome():
    """--json prints the Outcome as JSON, every step with its rendered params."""
    code, out = run(
        "simulate",
        EXAMPLE,
        "--event",
        str(EVENTS / "invoice.payment_failed.vip.json"),
        "--json",
        "--at",
        AT,
    )
    assert code == 0
    data = json.loads(out)
    assert data["event_id"] == "evt_1PgdA1B7WZ01zgkWdunnVIP1"
    assert data["duplicate"] is False
    assert data["matched"] == ["vip-card-declined"]
    assert data["warnings"] == []
    [run_] = data["runs"]
    assert (run_["rule"], run_["status"], run_["next_at"]) == (
        "vip-card-declined",
        "completed",
        None,
    )
    assert [(s["type"], s["status"]) for s in data["actions"]] == [
        ("slack", "planned"),
        ("ticket", "planned"),
    ]
    assert data["actions"][0]["params"] == {
        "channel": "#billing-vip",
        "text": "URGENT: VIP customer Globex Corporation (ap@globex.example) failed to pay "
        "$750.00 for invoice 7FE1103-0001 (attempt 1).",
    }


def test_simulate_json_writes_datetimes_as_iso_text():
    """--json writes a waiting run's next_at as ISO 8601 text."""
    code, out = run(
        "simulate",
        EXAMPLE,
        "--event",
        str(EVENTS / "invoice.payment_failed.json"),
        "--json",
        "--at",
        AT,
    )
    assert code == 0
    assert json.loads(out)["runs"][0]["next_at"] == "2026-01-04T00:00:00+00:00"


def test_simulate_a_missing_event_file_exits_2(tmp_path, capsys):
    """An --event file that does not exist is bad usage: exit 2."""
    missing = tmp_path / "nope.json"
    assert run("simulate", EXAMPLE, "--event", str(missing)) == (2, "")
    assert capsys.readouterr().err == (
        f"dunning-rules: error: cannot read --event {missing}: No such file or directory\n"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "a Stripe event is a mapping, not list"),
        ('{"id": "evt_1", "data": {"object": {}}}', "event 'evt_1' needs a string 'type'"),
        ('{"id": 5, "type": "x", "data": {"object": {}}}', "a Stripe event needs a string 'id'"),
    ],
    ids=["list", "no-type", "number-id"],
)
def test_simulate_an_event_that_is_not_a_stripe_event_exits_2(tmp_path, capsys, content, message):
    """An --event that is not a Stripe event is bad usage: exit 2, saying why."""
    path = tmp_path / "event.json"
    path.write_text(content, encoding="utf-8")
    assert run("simulate", EXAMPLE, "--event", str(path)) == (2, "")
    assert capsys.readouterr().err == f"dunning-rules: error: --event {path}: {message}\n"


def test_simulate_an_event_that_is_not_json_exits_2(tmp_path, capsys):
    """An --event file that is not JSON is bad usage: exit 2."""
    path = tmp_path / "event.json"
    path.write_text("{not json", encoding="utf-8")
    assert run("simulate", EXAMPLE, "--event", str(path)) == (2, "")
    assert capsys.readouterr().err.startswith(f"dunning-rules: error: --event {path} is not JSON: ")


def test_simulate_a_bad_time_exits_2(capsys):
    """An --at that is not ISO 8601 is bad usage: exit 2."""
    event = str(EVENTS / "invoice.paid.json")
    assert run("simulate", EXAMPLE, "--event", event, "--at", "soon") == (2, "")
    assert capsys.readouterr().err == "dunning-rules: error: --at 'soon' is not an ISO 8601 time\n"


def test_simulate_bad_rules_exits_1(tmp_path, capsys):
    """simulate with a bad rule file reports the problems and exits 1."""
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_RULES, encoding="utf-8")
    event = str(EVENTS / "invoice.paid.json")
    assert run("simulate", str(path), "--event", event) == (1, "")
    assert capsys.readouterr().err.endswith("\n2 problems found\n")


# --- schema ------------------------------------------------------------------------------------


def test_schema_prints_the_rules_schema():
    """schema prints exactly the text of schemas/rules.schema.json, which it generates."""
    code, out = run("schema")
    assert code == 0
    assert out == SCHEMA.read_text(encoding="utf-8")


def test_python_m_dunning_rules_schema():
    """`python -m dunning_rules schema` runs the same command in a new process."""
    done = subprocess.run(
        [sys.executable, "-m", "dunning_rules", "schema"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout) == json.loads(SCHEMA.read_text(encoding="utf-8"))


# --- bounds, help, closed pipes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("99999-01-01", "--at '99999-01-01' is not an ISO 8601 time"),
        (
            "9000-01-01",
            "--at '9000-01-01' is out of bounds: give a time from the year 2000 up to 9000",
        ),
        ("1970-01-01T00:00Z", "--at '1970-01-01T00:00Z' is out of bounds"),
    ],
    ids=["five-digit-year", "year-9000", "year-1970"],
)
def test_simulate_a_time_out_of_bounds_exits_2(capsys, at, message):
    """An --at outside the years 2000 to 9000 is bad usage (exit 2), naming the option."""
    event = str(EVENTS / "invoice.payment_failed.json")
    assert run("simulate", EXAMPLE, "--event", event, "--at", at) == (2, "")
    assert capsys.readouterr().err.startswith(f"dunning-rules: error: {message}")


def test_simulate_at_the_last_year_allowed_plans_a_wait():
    """An --at late in 8999 still plans a 3-day wait past the year's end without overflow."""
    event = str(EVENTS / "invoice.payment_failed.json")
    code, out = run("simulate", EXAMPLE, "--event", event, "--at", "8999-12-31T12:00Z")
    assert code == 0
    assert "-> waiting until 9000-01-03T12:00:00+00:00" in out


def subcommands():
    from dunning_rules.cli import _parser

    parser = _parser()
    (choices,) = [a.choices for a in parser._actions if a.choices and a.dest == "command"]
    return parser, choices


SUBCOMMANDS = ["validate", "simulate", "schema", "run-due", "history"]


@pytest.mark.parametrize("name", SUBCOMMANDS, ids=SUBCOMMANDS)
def test_every_option_of_a_subcommand_is_described(name):
    """Each subcommand has a description, an epilog with an example of itself, and a help
    text for every argument and option."""
    _, choices = subcommands()
    sub = choices[name]
    assert sub.description
    assert f"example:\n  dunning-rules {name}" in sub.epilog
    undescribed = [a.dest for a in sub._actions if not a.help]
    assert undescribed == []


@pytest.mark.parametrize("name", SUBCOMMANDS, ids=SUBCOMMANDS)
def test_help_of_a_subcommand_prints_its_options_and_exits_0(name, capsys):
    """`dunning-rules NAME --help` exits 0 and shows each option with its text."""
    _, choices = subcommands()
    code, _ = run(name, "--help")
    assert code == 0
    text = " ".join(capsys.readouterr().out.split())
    for action in choices[name]._actions:
        assert " ".join(action.help.split()) in text
        for option in action.option_strings:
            assert option in text


class ClosedPipe(io.StringIO):
    """An output whose reader went away: every write fails as a closed pipe does."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_output_exits_141_quietly(capsys):
    """When the output pipe closes, main returns 141 (128 + SIGPIPE, as git) and prints
    nothing on stderr."""
    event = str(EVENTS / "invoice.payment_failed.json")
    code = main(["simulate", EXAMPLE, "--event", event, "--json"], out=ClosedPipe())
    assert code == 141
    assert capsys.readouterr().err == ""


def test_python_m_with_a_pipe_closed_early_prints_no_traceback():
    """`python -m dunning_rules simulate ... --json | head -c 10`, its reader gone before it
    writes: exit 141 and nothing on stderr (no BrokenPipeError traceback)."""
    event = str(EVENTS / "invoice.payment_failed.json")
    with subprocess.Popen(
        [sys.executable, "-m", "dunning_rules", "simulate", EXAMPLE, "--event", event, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdout.close()  # closed before the command has imported, so before it writes
        err = proc.stderr.read()
        code = proc.wait(timeout=60)
    assert (code, err) == (141, b"")


def test_simulate_several_events_runs_them_in_order_on_a_simulated_clock(tmp_path):
    """Two --event files: the failure's email goes out, the payment a day later cancels the
    run, so no SMS; the listing is each invoice's messages in order."""
    paid = json.loads((EVENTS / "invoice.paid.json").read_text())
    failed = json.loads((EVENTS / "invoice.payment_failed.json").read_text())
    paid["created"] = failed["created"] + 86400
    (tmp_path / "paid.json").write_text(json.dumps(paid))
    code, out = run(
        "simulate",
        EXAMPLE,
        "--event",
        str(EVENTS / "invoice.payment_failed.json"),
        "--event",
        str(tmp_path / "paid.json"),
    )
    assert code == 0
    assert out.splitlines() == [
        "2 events in created order, on a simulated clock",
        "",
        "in_1Pgc6tB7WZ01zgkWu9fdqL6I",
        "  2024-07-26T01:34:19+00:00  email        rule standard-card-declined",
        "",
        "runs: 1 started, 0 completed, 1 cancelled, 0 failed, 0 waiting",
    ]


def test_simulate_takes_lookup_values():
    """--lookup ltv=JSON decides a rule on lifetime value; a bad value is exit 2."""
    event = str(EVENTS / "invoice.payment_failed.json")
    code, out = run("simulate", EXAMPLE, "--event", event, "--lookup", 'ltv={"amount": 2000000}')
    assert code == 0
    assert "rule vip-card-declined" in out
    code, _ = run("simulate", EXAMPLE, "--event", event, "--lookup", "ltv={")
    assert code == 2

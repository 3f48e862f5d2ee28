"""``dunning-rules replay``: add_replay_parser and run_replay through a small argparse."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from dunning_rules._cli_common import UsageError
from dunning_rules._cli_replay import add_replay_parser, run_replay
from tests.replay.support import SMART, gen_month


def parse(argv):
    parser = argparse.ArgumentParser(prog="dunning-rules")
    add_replay_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["replay", *argv])


def run(argv):
    out = io.StringIO()
    code = run_replay(parse(argv), out)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay") / "month.jsonl"
    events = gen_month.generate(9, 60, 30)[0]
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def test_the_summary_is_a_few_tables(month):
    """Plain output: the events, the runs, the rules, the messages; exit 0."""
    code, text = run([str(SMART), "--events", str(month)])
    assert code == 0
    assert text.startswith("replayed ")
    for heading in ("\nruns\n", "\nrules\n", "\nmessages\n", "recovered:", "violations: none"):
        assert heading in text


def test_json_and_html(month, tmp_path):
    """--json prints the report's keys; --html writes one page."""
    page = tmp_path / "r.html"
    code, text = run([str(SMART), "--events", str(month), "--json", "--html", str(page)])
    assert code == 0
    data = json.loads(text)
    assert data["events"] > 0
    assert set(data["runs"]) >= {"started", "completed", "cancelled", "failed", "waiting"}
    assert page.read_text().startswith("<!DOCTYPE html>")


def test_hostile_without_violations_exits_0(month):
    """--hostile SEED delivers the events badly; no violation, so exit 0."""
    code, text = run([str(SMART), "--events", str(month), "--hostile", "4"])
    assert code == 0
    assert "hostile delivery (seed 4)" in text


def test_violations_exit_1(month, tmp_path):
    """A rule set that messages after payments makes replay exit 1."""
    careless = tmp_path / "careless.yaml"
    careless.write_text(
        SMART.read_text()
        .replace(
            "    cancel_on: [invoice.paid, invoice.voided, invoice.marked_uncollectible]\n", ""
        )
        .replace("""      - {type: guard, when: "steps.recheck.status == 'open'"}\n""", "")
    )
    code, text = run([str(careless), "--events", str(month)])
    assert code == 1
    assert "VIOLATIONS:" in text


def test_differences_exit_1_only_with_the_flag(month, tmp_path):
    """--compare lists differences and exits 0; with --fail-on-difference it exits 1."""
    later = tmp_path / "later.yaml"
    later.write_text(SMART.read_text().replace("duration: 3d", "duration: 5d"))
    argv = [str(later), "--compare", str(SMART), "--events", str(month)]
    code, text = run(argv)
    assert code == 0
    assert "invoices would get other messages" in text
    assert run([*argv, "--fail-on-difference"])[0] == 1
    assert (
        run([str(SMART), "--compare", str(SMART), "--events", str(month), "--fail-on-difference"])[
            0
        ]
        == 0
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--events", "missing.jsonl"], "no such file or directory"),
        (["--events", "{month}", "--fail-on-difference"], "needs --compare"),
        (["--events", "{month}", "--lookups", "nope.json"], "no such file"),
    ],
    ids=["no-events", "flag-without-compare", "no-lookups"],
)
def test_bad_usage_is_a_usage_error(month, argv, message):
    """Bad usage raises UsageError (the command line exits 2)."""
    argv = [a.replace("{month}", str(month)) for a in argv]
    with pytest.raises(UsageError, match=message):
        run([str(SMART), *argv])


def test_no_progress_bar_when_stderr_is_not_a_terminal(month, capsys):
    """Without a terminal on stderr, nothing is drawn there."""
    run([str(SMART), "--events", str(month)])
    assert capsys.readouterr().err == ""

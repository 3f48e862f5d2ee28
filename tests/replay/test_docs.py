"""docs/replay.md runs as shown, in a folder like a reader's clone (a copy of examples/ and
rules.yaml): its Python blocks in order, then its replay commands through run_replay, with
the output the page shows (``dunning-rules replay`` is not yet a subcommand of cli.main)."""

from __future__ import annotations

import argparse
import io
import re
import shlex
import shutil

import pytest

from dunning_rules._cli_replay import add_replay_parser, run_replay
from tests.replay.support import ROOT

DOC = ROOT / "docs" / "replay.md"
FENCE = re.compile(r"^```(python|console)\n(.*?)^```", re.S | re.M)
BLOCKS = [(m.group(1), m.group(2)) for m in FENCE.finditer(DOC.read_text())]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copy(ROOT / "examples" / "smart_dunning.yaml", tmp_path / "rules.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _commands(text):
    """``(argv, shown lines)`` for every ``$ dunning-rules replay`` of a console block."""
    found = []
    for line in text.splitlines():
        if line.startswith("$ "):
            argv = shlex.split(line[2:])
            if ">" in argv:  # the output goes to a file: drop the redirection
                argv = argv[: argv.index(">")]
            found.append((argv, []))
        elif found:
            found[-1][1].append(line.rstrip())
    return [(argv, shown) for argv, shown in found if argv[:2] == ["dunning-rules", "replay"]]


def _run(argv):
    parser = argparse.ArgumentParser(prog="dunning-rules")
    add_replay_parser(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    code = run_replay(parser.parse_args(argv[1:]), out)
    return code, [line.rstrip() for line in out.getvalue().rstrip("\n").splitlines()]


def test_the_page_has_python_and_commands():
    """The pattern finds the blocks (a broken one would test nothing)."""
    assert sum(kind == "python" for kind, _ in BLOCKS) >= 4
    assert sum(len(_commands(text)) for kind, text in BLOCKS if kind == "console") >= 4


def test_the_page_runs_top_to_bottom(workdir):
    """Each Python block runs (asserts included); each replay command exits 0 and prints
    exactly what the page shows under it."""
    namespace = {"__name__": "__doc__"}
    for kind, text in BLOCKS:
        if text.startswith("# doc: not run"):
            continue
        if kind == "python":
            exec(compile(text, str(DOC), "exec"), namespace)
            continue
        for argv, shown in _commands(text):
            code, printed = _run(argv)
            assert code == 0, argv
            if shown:
                assert printed == shown, argv

"""Shell blocks of the docs: which commands run, which are skipped and why, and their output.

An ``sh`` block is a list of commands (``\\`` continues a line, ``&&`` chains, ``#`` starts a
comment). A ``console`` block shows commands after ``$ `` and, under each, what it prints.

Commands run as the reader would run them, in the page's working directory (a copy of the
repository's ``examples/``, and ``rules.yaml``): ``dunning-rules ...`` (also as
``.venv/bin/dunning-rules`` or ``python -m dunning_rules``) runs the command line's ``main``
with stdout and stderr going to one buffer, as a terminal shows them; ``export NAME=value``
sets a variable for the rest of the page. Every other command is recognised by name in
:data:`SKIPPED` (it installs things, needs a network or a server, or runs until stopped) and
skipped; a command that is neither is an error, so a new kind of command cannot slip by.

Printed output is compared line by line, trailing spaces and blank lines at the end aside.
In the page, ``...`` (three ASCII dots) stands for any text within a line: a time, a run id,
a path of the temporary directory. The ellipsis character ``…`` is not a placeholder: the
command line prints it where it shortens a value.
"""

from __future__ import annotations

import contextlib
import glob
import io
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from dunning_rules import cli

PLACEHOLDER = "..."

# The first words of commands that are not run, and why.
SKIPPED: dict[tuple[str, ...], str] = {
    ("pip",): "installs packages",
    ("python", "-m", "pip"): "installs packages",
    ("python", "-m", "venv"): "makes a virtual environment",
    (".", ".venv/bin/activate"): "changes the reader's shell",
    ("source",): "changes the reader's shell",
    ("cd",): "the page runs in a directory of its own",
    ("git",): "needs a network",
    ("bash", ".ci/test.sh"): "installs packages and starts a PostgreSQL server",
    (".ci/postgres.sh",): "starts or stops a PostgreSQL server",
    ("stripe",): "needs a Stripe account and a network",
    ("flask",): "starts a web server",
    ("uvicorn",): "starts a web server",
    ("gunicorn",): "starts a web server",
    ("python", "examples/worker.py"): "runs until stopped",
    ("python", "manage.py"): "needs the reader's Django project",
    ("pytest",): "runs a test suite",
    ("systemctl",): "needs a service manager",
    ("kubectl",): "needs a Kubernetes cluster",
}
# dunning-rules commands that are not run, by an option they hold, and why.
SKIPPED_OPTIONS: dict[str, str] = {
    "--loop": "runs until stopped",
    "--engine": "imports the reader's own module",
}
SKIPPED_PREFIXES: dict[str, str] = {
    "postgresql://": "needs a PostgreSQL server",
}


@dataclass
class Command:
    """One command of a block, and the output the page shows under it (None: not shown)."""

    argv: list[str]
    expected: list[str] | None = None
    redirect: str | None = None  # the file after ``>``
    line: str = ""

    def skip_reason(self) -> str | None:
        """Why this command is not run, or None when it runs."""
        words = [_program(self.argv[0]), *self.argv[1:]]
        for prefix, reason in SKIPPED.items():
            if tuple(words[: len(prefix)]) == prefix:
                return reason
        if self.is_cli():
            for arg in self.cli_args():
                for option, reason in SKIPPED_OPTIONS.items():
                    if arg == option or arg.startswith(option + "="):
                        return reason
                for prefix, reason in SKIPPED_PREFIXES.items():
                    if arg.startswith(prefix):
                        return reason
        return None

    def is_cli(self) -> bool:
        words = [_program(self.argv[0]), *self.argv[1:]]
        return words[0] == "dunning-rules" or words[:3] == ["python", "-m", "dunning_rules"]

    def is_export(self) -> bool:
        return self.argv[0] == "export"

    def cli_args(self) -> list[str]:
        return self.argv[1:] if _program(self.argv[0]) == "dunning-rules" else self.argv[3:]


def _program(word: str) -> str:
    """``.venv/bin/dunning-rules`` is ``dunning-rules``; ``python3`` is ``python``."""
    name = word.rsplit("/", 1)[-1] if word.startswith((".venv/", "/")) else word
    return "python" if name in ("python3", ".venv/bin/python") else name


def _split(line: str) -> list[Command]:
    """The commands of one shell line: ``a && b`` is two; ``> file`` redirects stdout."""
    commands: list[Command] = []
    words = shlex.split(line, comments=True)
    for part in _chain(words):
        if not part:
            continue
        redirect = None
        if ">" in part:
            at = part.index(">")
            part, redirect = part[:at], part[at + 1]
        if "|" in part or ";" in part:
            raise ValueError(f"a pipe or ';' is not supported in a documented command: {line}")
        commands.append(Command(part, redirect=redirect, line=line))
    return commands


def _chain(words: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for word in words:
        if word == "&&":
            parts.append([])
        else:
            parts[-1].append(word)
    return parts


def _logical_lines(lines: list[str]) -> list[str]:
    """Join lines ending in a backslash with the next one."""
    joined: list[str] = []
    pending = ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    if pending:
        joined.append(pending)
    return joined


def parse_sh(text: str) -> list[Command]:
    """The commands of an ``sh`` block; it shows no output."""
    commands: list[Command] = []
    for line in _logical_lines(text.splitlines()):
        if line.strip() and not line.lstrip().startswith("#"):
            commands.extend(_split(line))
    return commands


def parse_console(text: str) -> list[Command]:
    """The commands of a ``console`` block, each with the output shown under it."""
    commands: list[Command] = []
    for line in text.splitlines():
        if not commands and line.startswith("# "):
            continue  # an annotation, before the first command
        if line.startswith("$ "):
            commands.extend(_split(line[2:]))
            commands[-1].expected = []
        elif commands:
            expected = commands[-1].expected
            assert expected is not None
            expected.append(line)
        elif line.strip():
            raise ValueError(f"output before the first '$ ' command: {line!r}")
    for command in commands:
        if command.expected is not None:
            while command.expected and not command.expected[-1].strip():
                command.expected.pop()
            if not command.expected:
                command.expected = None
    return commands


@dataclass
class Result:
    code: int
    output: str
    lines: list[str] = field(default_factory=list)


def run_cli(command: Command, cwd: Path) -> Result:
    """Run a ``dunning-rules`` command in ``cwd`` (already the working directory)."""
    args: list[str] = []
    for arg in command.cli_args():
        matches = sorted(glob.glob(arg, root_dir=cwd)) if any(c in arg for c in "*?[") else []
        args.extend(matches or [arg])
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        code = cli.main(args)
    output = buffer.getvalue()
    if command.redirect is not None:
        (cwd / command.redirect).write_text(output, encoding="utf-8")
    return Result(code, output, [line.rstrip() for line in output.rstrip("\n").splitlines()])


def _pattern(expected: str) -> re.Pattern[str]:
    parts = [re.escape(part) for part in expected.rstrip().split(PLACEHOLDER)]
    return re.compile(".*".join(parts))


def output_matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` is ``expected`` line for line, ``...`` standing for any text."""
    actual = list(actual)
    while actual and not actual[-1].strip():
        actual.pop()
    if len(expected) != len(actual):
        return False
    return all(_pattern(e).fullmatch(a) is not None for e, a in zip(expected, actual, strict=True))

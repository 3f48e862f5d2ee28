"""Every snippet of the documentation runs exactly as shown, and the site builds.

Each page (README.md and docs/*.md) runs top to bottom in a fresh temporary working directory
that holds what a reader's clone holds for the snippets: a copy of ``examples/`` (the example
rule file and events) and ``rules.yaml``, a copy of ``examples/smart_dunning.yaml``. Nothing
else is set up: no variable, no name. Within a page, in order:

- a Python block runs in the page's one namespace (so a first block that defines ``rules`` and
  ``event`` serves the later ones). A block whose first lines say ``# doc: not run (REASON)``
  is only compiled (a few need a Stripe key or a server). A block that shows a web framework
  app (it imports Flask, FastAPI, Django or Celery, or decorates ``@app``) is only compiled
  where the framework is not the point: the README's "In your app" app is run by
  tests/recipes/test_readme.py, security.md's endpoints are fragments of such an app, deploy.md's
  Celery task needs a broker. On the pages in :data:`FRAMEWORK_PAGES` they run (the tutorial's
  Flask app, with Flask's test client). A block that says ``# file: NAME`` is saved as ``NAME``
  and, if Python, only compiled here: it runs when a later block imports it;
- a YAML block that says ``# file: NAME`` is saved as ``NAME``;
- shell blocks run as tests/docs/shell.py describes, their shown output compared.

The socket layer refuses any address but 127.0.0.1 while a page runs, so a snippet that would
reach a provider fails instead. Apart from the page runs: every rule file loads, builds an
engine with the built-in adapters and simulates a failed payment; every JSON block parses; the
README shows what ``dunning-rules simulate`` prints; the rule-file reference and the JSON
Schema name the same keys; ``mkdocs build --strict`` passes.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import dunning_rules as dr
from tests.docs import shell
from tests.docs.pages import DOCS, ROOT, Block, all_blocks, blocks, pages

EXAMPLES = ROOT / "examples"
FRAMEWORK = re.compile(r"^(from|import) (flask|fastapi|django|celery)\b|^@app\.", re.M)
FRAMEWORK_PAGES = {"tutorial.md"}  # pages where the framework is the point: their apps run
CREDENTIALS = (  # a snippet must not pick up a real credential from the test's environment
    "STRIPE_API_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "SLACK_BOT_TOKEN",
    "SLACK_WEBHOOK_URL",
    "SLACK_SIGNING_SECRET",
    "SENDGRID_API_KEY",
    "SMTP_HOST",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TEAMS_WEBHOOK_URL",
    "ASANA_ACCESS_TOKEN",
    "INTERCOM_ACCESS_TOKEN",
    "OPENAI_API_KEY",
    "DUNNING_STORE",
    "DUNNING_RULES_FILE",
)
PAGES = pages()
FAILED_EVENT = EXAMPLES / "events" / "invoice.payment_failed.json"


def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1"):
            raise OSError(f"the docs' snippets may not reach {address[0]}")
        return real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "::1", "localhost", None):
            raise OSError(f"the docs' snippets may not look up {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A folder like a reader's clone, as the working directory; the network closed."""
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(EXAMPLES / "smart_dunning.yaml", tmp_path / "rules.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # `python` there imports the reader's modules
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    _loopback_only(monkeypatch)
    before, environ = set(sys.modules), dict(os.environ)
    yield tmp_path
    os.environ.clear()
    os.environ.update(environ)  # a snippet may set a variable, as the reader's shell would
    for name in set(sys.modules) - before:
        if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]


def _compile(block: Block) -> Any:
    """The block's code, with the page's line numbers in tracebacks."""
    return compile("\n" * block.line + block.text, str(block.page), "exec")


def _compiled_only(block: Block) -> str | None:
    """Why a Python block is only compiled, or None when it runs."""
    if block.not_run:
        return block.not_run
    if block.file:
        return f"saved as {block.file}; it runs when imported"
    if FRAMEWORK.search(block.text) and block.page.name not in FRAMEWORK_PAGES:
        return "a framework app, where the framework is not the point"
    return None


def _run_shell(block: Block, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parse = shell.parse_console if block.language == "console" else shell.parse_sh
    commands = parse(block.text)
    assert commands, f"{block.where}: a shell block without a command"
    if block.not_run:
        return
    for command in commands:
        if command.is_export():
            for assignment in command.argv[1:]:
                name, _, value = assignment.partition("=")
                monkeypatch.setenv(name, value)
            continue
        if command.skip_reason():
            continue
        assert command.is_cli(), (
            f"{block.where}: {command.line!r} is neither run nor skipped by name: "
            "add it to tests/docs/shell.py's SKIPPED, with the reason"
        )
        result = shell.run_cli(command, cwd)
        if command.expected is None:
            assert result.code == 0, f"{block.where}: {command.line!r} failed:\n{result.output}"
        else:
            same = shell.output_matches(command.expected, result.lines)
            diff = "\n".join(
                difflib.unified_diff(command.expected, result.lines, "page", "printed")
            )
            assert same, f"{block.where}: {command.line!r} prints otherwise:\n{diff}"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_runs_top_to_bottom(page, workdir, monkeypatch):
    """Every Python and shell block of the page runs, in order, and prints what it shows."""
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    for block in blocks(page):
        if block.file and block.language in ("python", "yaml", "json", "toml", "text"):
            target = workdir / block.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text, encoding="utf-8")
        if block.language == "python":
            code = _compile(block)
            if _compiled_only(block) is None:
                exec(code, namespace)
        elif block.language in ("sh", "console"):
            _run_shell(block, workdir, monkeypatch)


def test_every_block_names_its_language():
    """A block without a language would be neither run nor checked: each one names one."""
    unnamed = [b.where for page in PAGES for b in blocks(page) if not b.language]
    assert unnamed == []


def test_the_marked_exceptions_are_few():
    """Only a few blocks are marked as not run (each with its reason): the rest run."""
    marked = [b.where for b in all_blocks("python", "sh", "console") if b.not_run]
    assert len(marked) <= 8, marked


RULE_FILES = [b for b in all_blocks("yaml") if b.is_rule_file]


@pytest.mark.parametrize("block", RULE_FILES, ids=[b.where for b in RULE_FILES])
def test_rule_file_loads_builds_and_simulates(block):
    """A documented rule file loads, an engine with the built-in adapters accepts it, and it
    simulates a failed payment; one marked ``# doc: invalid`` is refused instead."""
    if block.invalid:
        with pytest.raises(dr.RuleFileError):
            dr.Engine(dr.load_rules(block.text))
        return
    engine = dr.Engine(dr.load_rules(block.text))
    event = json.loads(FAILED_EVENT.read_text(encoding="utf-8"))
    assert engine.simulate(event).event_id == event["id"]


OTHER_YAML = [b for b in all_blocks("yaml") if not b.is_rule_file]


@pytest.mark.parametrize("block", OTHER_YAML, ids=[b.where for b in OTHER_YAML])
def test_other_yaml_parses(block):
    """A YAML block that is not a rule file (a Kubernetes manifest, a config) is valid YAML."""
    assert list(yaml.safe_load_all(block.text))


JSON = all_blocks("json")


@pytest.mark.parametrize("block", JSON, ids=[b.where for b in JSON])
def test_json_parses(block):
    """A JSON block (an event, the output of a ``--json`` command) is valid JSON."""
    json.loads(block.text)


def test_the_docs_have_snippets():
    """The collection found the snippets (a broken pattern would test nothing)."""
    assert len(RULE_FILES) >= 15
    assert len(all_blocks("python")) >= 15
    assert len(all_blocks("sh", "console")) >= 15


PLACEHOLDER_LINE = re.compile(r"waiting until \.\.\.$")


def test_readme_shows_what_simulate_prints(workdir):
    """The README's set-up ends with the example simulation, and shows its output exactly."""
    readme = [b for b in blocks(ROOT / "README.md") if b.language == "console"]
    commands = [c for b in readme for c in shell.parse_console(b.text) if c.is_cli()]
    wanted = (
        "simulate examples/smart_dunning.yaml --event examples/events/invoice.payment_failed.json"
    )
    [command] = [c for c in commands if " ".join(c.cli_args()) == wanted]
    assert command.expected is not None
    result = shell.run_cli(command, workdir)
    assert result.code == 0
    assert shell.output_matches(command.expected, result.lines), result.output
    assert sum(PLACEHOLDER_LINE.search(line) is not None for line in command.expected) == 1


def test_placeholders_stand_for_text_within_a_line():
    """``...`` matches any text in its line, and a line count that differs never matches."""
    assert shell.output_matches(["run 1  -> waiting until ..."], ["run 1  -> waiting until 2026"])
    assert not shell.output_matches(["run 1  -> done"], ["run 1  -> waiting"])
    assert not shell.output_matches(["a", "..."], ["a"])


def test_unknown_commands_are_not_skipped():
    """A command the test does not know is neither run nor skipped (the page test fails)."""
    [command] = shell.parse_sh("curl https://example.com\n")
    assert command.skip_reason() is None
    assert not command.is_cli()


# The rule-file reference and the JSON Schema.

SCHEMA = json.loads((ROOT / "schemas" / "rules.schema.json").read_text(encoding="utf-8"))
SECTIONS = {
    "Top level": SCHEMA,
    "A rule": SCHEMA["$defs"]["rule"],
    "A step": SCHEMA["$defs"]["action"],
}
ROW = re.compile(r"^\| `([^`]+)` \|", re.M)


def _section(title: str) -> str:
    text = (DOCS / "rule-files.md").read_text(encoding="utf-8")
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert found is not None, f"docs/rule-files.md has no section '## {title}'"
    return found.group(1)


@pytest.mark.parametrize("title", list(SECTIONS))
def test_reference_documents_every_schema_key(title):
    """Every key the schema knows at this level is named in the page's section."""
    body = re.sub(r"^```.*?^```", "", _section(title), flags=re.S | re.M)
    named = set(re.findall(r"`([^`\s:]+)`", body))
    assert sorted(set(SECTIONS[title]["properties"]) - named) == []


@pytest.mark.parametrize("title", list(SECTIONS))
def test_reference_lists_only_schema_keys(title):
    """Every key in the section's table is one the schema knows at that level."""
    listed = set(ROW.findall(_section(title)))
    assert listed, f"no key table in '## {title}'"
    assert sorted(listed - set(SECTIONS[title]["properties"])) == []


def test_the_site_builds_strictly(tmp_path):
    """``mkdocs build --strict``: every page in the navigation, every link and anchor found."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "tutorial" / "index.html").exists()

"""The test suite is self-contained: it reads its data from tests/fixtures and nothing outside
the checkout, so a fresh clone runs it with nothing beside it.

The scans read every test source (tests/ without tests/fixtures, which is data, and without this
file, which spells out what it looks for) and report each offending line as ``path:line: text``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.paths import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
_THIS = Path(__file__).resolve()
# The folders copied in, each with the SOURCES.md that says where its files came from.
FOLDERS = ("jmespath-compliance", "stripe", "stripe/real", "vendors")

# A folder beside the checkout, by name or by the variable that used to point at it.
_OUTSIDE_TEXT = re.compile(r"\.\./shared|shared/fixtures|['\"]shared['\"]|DUNNING_RULES_FIXTURES")
# Path(__file__)[.resolve()].parents[N] or .parent.parent...
_PARENTS = re.compile(
    r"Path\(__file__\)(?:\.resolve\(\))?(?:\.parents\[(?P<index>\d+)\]|(?P<chain>(?:\.parent\b)+))"
)
# Absolute paths of a machine's own folders (URL paths like "/v1/..." are not files).
_MACHINE_ROOTS = ("/work/", "/home/", "/Users/", "/root/", "/tmp/", "/var/", "/opt/", "/srv/")


def _sources(tests: Path) -> list[Path]:
    """Every text file under ``tests``, tests/fixtures, caches and this file aside."""
    fixtures = tests / "fixtures"
    return sorted(
        path
        for path in tests.rglob("*")
        if path.is_file()
        and not path.is_relative_to(fixtures)
        and path.resolve() != _THIS
        and "__pycache__" not in path.parts
        and path.suffix in {".py", ".yaml", ".yml", ".md", ".json", ".txt", ".toml", ".cfg"}
    )


def outside_references(tests: Path) -> list[str]:
    """Lines under ``tests`` that name the shared folder beside the checkout."""
    found = []
    for path in _sources(tests):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _OUTSIDE_TEXT.search(line):
                found.append(f"{path}:{number}: {line.strip()}")
    return found


def climbs_out(tests: Path, root: Path) -> list[str]:
    """``Path(__file__)`` parents under ``tests`` that lead above ``root``."""
    found = []
    for path in _sources(tests):
        if path.suffix != ".py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in _PARENTS.finditer(line):
                if match["index"] is not None:
                    parents = path.resolve().parents
                    index = int(match["index"])
                    target = parents[index] if index < len(parents) else Path("/..")
                else:
                    target = path.resolve()
                    for _ in range(match["chain"].count(".parent")):
                        target = target.parent
                if not target.is_relative_to(root.resolve()):
                    found.append(f"{path}:{number}: {line.strip()}")
    return found


def absolute_paths(tests: Path) -> list[str]:
    """String literals in the Python files under ``tests`` that name a machine's folders or
    start with ``..``."""
    found = []
    for path in _sources(tests):
        if path.suffix != ".py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            value = node.value
            if value.startswith(_MACHINE_ROOTS) or value == ".." or value.startswith("../"):
                found.append(f"{path}:{node.lineno}: {value!r}")
    return found


def test_no_test_source_names_the_shared_folder():
    """No file under tests/ names ../shared, shared/fixtures or DUNNING_RULES_FIXTURES."""
    assert outside_references(TESTS) == []


def test_no_test_source_climbs_out_of_the_checkout():
    """Every Path(__file__).parents[N] (or .parent chain) under tests/ stays in the checkout."""
    assert climbs_out(TESTS, ROOT) == []


def test_no_test_source_holds_an_absolute_or_parent_path():
    """No string under tests/ is a machine's absolute folder (/work/, /tmp/, ...) or ../."""
    assert absolute_paths(TESTS) == []


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ('DATA = Path(__file__).resolve().parents[2] / "shared" / "fixtures"\n', True),
        ('DATA = os.environ.get("DUNNING_RULES_FIXTURES")\n', True),
        ("# read from ../shared/fixtures\n", True),
        ('DATA = Path(__file__).resolve().parent / "fixtures"\n', False),
    ],
    ids=["shared-folder", "old-variable", "comment", "tests-fixtures"],
)
def test_the_name_scan_finds_a_planted_reference(tmp_path, line, found):
    """The scan for the shared folder reports a planted line and only that."""
    (tmp_path / "test_planted.py").write_text(line)
    assert bool(outside_references(tmp_path)) is found


@pytest.mark.parametrize(
    ("expression", "found"),
    [
        ("Path(__file__).resolve().parents[2]", True),
        ("Path(__file__).parent.parent.parent", True),
        ("Path(__file__).resolve().parents[1]", False),
        ("Path(__file__).parent.parent", False),
    ],
    ids=["parents-2", "parent-chain-3", "parents-1", "parent-chain-2"],
)
def test_the_climb_scan_finds_a_path_above_the_root(tmp_path, expression, found):
    """A file two folders below the root may climb two levels, not three."""
    root = tmp_path / "repo"
    tests = root / "tests"
    tests.mkdir(parents=True)
    (tests / "test_planted.py").write_text(f"HERE = {expression}\n")
    assert bool(climbs_out(tests, root)) is found


@pytest.mark.parametrize(
    ("literal", "found"),
    [
        ("/work/shared/fixtures", True),
        ("/tmp/data.json", True),
        ("../data", True),
        ("/v3/x", False),
    ],
    ids=["work", "tmp", "parent", "url-path"],
)
def test_the_literal_scan_finds_an_absolute_path(tmp_path, literal, found):
    """The scan for literals reports a machine's folder or ../, not a URL path."""
    (tmp_path / "test_planted.py").write_text(f"PATH = {literal!r}\n")
    assert bool(absolute_paths(tmp_path)) is found


def test_the_fixtures_are_inside_the_checkout():
    """tests/paths.FIXTURES is the tests/fixtures folder of this checkout."""
    assert FIXTURES == TESTS / "fixtures"
    assert FIXTURES.is_dir()


@pytest.mark.parametrize("folder", FOLDERS, ids=FOLDERS)
def test_each_fixture_folder_keeps_its_sources(folder):
    """Each copied folder keeps its SOURCES.md, and the README names the folder."""
    assert (FIXTURES / folder / "SOURCES.md").is_file()
    assert f"`{folder}/`" in (FIXTURES / "README.md").read_text(encoding="utf-8")

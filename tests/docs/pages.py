"""The code blocks of the documentation pages, in page order, with their annotations.

A block is a fenced block, at the start of a line or indented inside a list item:
```` ```python ````, ```` ```yaml ````, ```` ```sh ````, ```` ```console ````, ```` ```json ````,
... Its leading comment lines may carry annotations that the reader sees as ordinary comments:

- ``# file: NAME``: the block is a file the reader saves as ``NAME`` (in the page's working
  directory) before the blocks that follow it use it;
- ``# doc: not run (REASON)``: the block cannot run here (it needs a Stripe key, a server, a
  network); a Python one is only compiled, a shell one is only parsed;
- ``# doc: invalid``: a rule file that is wrong on purpose (an error message is shown next to
  it); it must fail to load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^( *)```([\w+-]*)[^\n]*\n(.*?)^\1```[ \t]*$", re.S | re.M)
FILE = re.compile(r"^# file: (\S+)\s*$")
NOT_RUN = re.compile(r"^# doc: not run \((.+)\)\s*$")
INVALID = "# doc: invalid"


def pages() -> list[Path]:
    """README.md and every page under docs/, in a stable order."""
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    def _annotations(self) -> list[str]:
        found = []
        for line in self.text.splitlines():
            if not line.startswith("# "):
                break
            found.append(line)
        return found

    @property
    def file(self) -> str | None:
        """The name the reader saves the block as, if the block says."""
        for line in self._annotations():
            if match := FILE.match(line):
                return match.group(1)
        return None

    @property
    def not_run(self) -> str | None:
        """Why the block cannot run here, if it is marked so."""
        for line in self._annotations():
            if match := NOT_RUN.match(line):
                return match.group(1)
        return None

    @property
    def invalid(self) -> bool:
        """Whether the block is a rule file that is wrong on purpose."""
        return INVALID in self._annotations()

    @property
    def is_rule_file(self) -> bool:
        """A YAML block with a top-level ``rules:`` key is a rule file."""
        return self.language == "yaml" and re.search(r"^rules:", self.text, re.M) is not None


def blocks(page: Path) -> list[Block]:
    """The blocks of ``page``, in order."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        indent, language, body = match.groups()
        if indent:  # a block inside a list item: its lines carry the item's indent
            body = "".join(line.removeprefix(indent) for line in body.splitlines(keepends=True))
        found.append(Block(page, text.count("\n", 0, match.start()) + 1, language, body))
    return found


def all_blocks(*languages: str) -> list[Block]:
    """Every block of every page in one of ``languages``."""
    return [b for page in pages() for b in blocks(page) if b.language in languages]

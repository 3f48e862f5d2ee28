"""MkDocs hook: links from a page to files of the repository outside docs/ keep working.

The pages link examples as GitHub shows them, relative to docs/ (``../examples/worker.py``).
This hook copies each linked file into the site under the same path (``examples/worker.py``),
gives each linked folder a generated page listing its files, and rewrites the links to
point there. A link to a file that does not exist is left alone, so ``mkdocs build --strict``
reports it as any other broken link.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

LINK = re.compile(r"\]\(\.\./([^)#\s]+)")
SKIP_PARTS = {"__pycache__", ".pytest_cache"}


def _root(config: Any) -> Path:
    return Path(config["docs_dir"]).resolve().parent


def _linked(config: Any) -> set[str]:
    """Repository paths that the pages link with ``../``."""
    found: set[str] = set()
    for page in Path(config["docs_dir"]).glob("*.md"):
        found.update(m.group(1).rstrip("/") for m in LINK.finditer(page.read_text("utf-8")))
    return found


def _files_under(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not SKIP_PARTS & set(p.parts) and p.suffix != ".pyc"
    )


def on_files(files: Files, config: Any) -> Files:
    root = _root(config)
    for rel in sorted(_linked(config)):
        target = root / rel
        if target.is_file():
            paths = [target]
        elif target.is_dir():
            paths = _files_under(target)
            lines = [f"# {rel}/", ""]
            lines += [
                f"- [{p.relative_to(target).as_posix()}]({p.relative_to(target).as_posix()})"
                for p in paths
            ]
            files.append(File.generated(config, f"{rel}/index.md", content="\n".join(lines) + "\n"))
        else:
            continue
        for path in paths:
            uri = path.relative_to(root).as_posix()
            if files.get_file_from_path(uri) is None:
                files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    root = _root(config)

    def rewrite(match: re.Match[str]) -> str:
        rel = match.group(1).rstrip("/")
        target = root / rel
        if target.is_dir():
            return f"]({rel}/index.md"
        if target.is_file():
            return f"]({rel}"
        return match.group(0)

    return LINK.sub(rewrite, markdown)

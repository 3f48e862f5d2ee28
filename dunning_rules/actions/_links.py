"""Which links a message may carry: a link built from event data must not run code.

Browsers and mail readers run ``javascript:`` and ``vbscript:`` links and open ``data:``
documents; a customer who controls a field that a rule puts in an ``href`` could use them.
Links are therefore checked after rendering, where the adapter sends them: email ``html``
(every URL attribute), Slack Block Kit URL fields and Teams ``Action.OpenUrl``.
"""

from __future__ import annotations

import html.parser
import re
import urllib.parse

__all__ = ["HTML_SCHEMES", "WEB_SCHEMES", "check_html_links", "link_scheme", "web_url_problem"]

# Schemes a link in a message may have. Email may also link mail, phone and inline parts.
WEB_SCHEMES = frozenset({"http", "https"})
HTML_SCHEMES = WEB_SCHEMES | {"mailto", "tel", "cid"}
# Attributes whose value is a URL that a reader follows or loads.
_URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "background", "poster", "cite", "longdesc",
     "usemap", "xlink:href", "lowsrc", "dynsrc", "data", "codebase", "ping"}
)  # fmt: skip
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# Browsers drop these anywhere in a URL before they read its scheme ("java\tscript:").
_IGNORED = re.compile(r"[\t\n\r]")


def link_scheme(url: str) -> str | None:
    """The scheme a browser would see in ``url`` (lower case), or None for a relative URL."""
    cleaned = _IGNORED.sub("", url).lstrip("".join(chr(c) for c in range(0x21)))
    found = _SCHEME.match(cleaned)
    return found.group(1).lower() if found else None


def web_url_problem(url: str) -> str | None:
    """Why ``url`` is no absolute http(s) URL, or None when it is one."""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return "holds spaces or control characters"
    scheme = link_scheme(url)
    if scheme not in WEB_SCHEMES:
        shown = f"{scheme}:" if scheme else "a relative URL"
        return f"is {shown}, not an http or https URL"
    if not urllib.parse.urlsplit(url).hostname:
        return "has no host"
    return None


class _LinkFinder(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if self.problem is not None or value is None:
                return
            if name == "srcset":  # "a.png 1x, b.png 2x": each candidate's URL
                urls = [part.split()[0] for part in value.split(",") if part.split()]
            elif name in _URL_ATTRIBUTES:
                urls = [value]
            else:
                continue
            for url in urls:
                scheme = link_scheme(url)
                if scheme is not None and scheme not in HTML_SCHEMES:
                    self.problem = f"<{tag} {name}> links to a {scheme}: URL"
                    return

    handle_startendtag = handle_starttag


def check_html_links(body: str) -> str | None:
    """The first link or source in ``body`` whose scheme is not http, https, mailto, tel or
    cid (attribute values are read as a browser reads them: entities decoded, tabs and line
    breaks dropped), described; or None."""
    finder = _LinkFinder()
    finder.feed(body)
    finder.close()
    return finder.problem

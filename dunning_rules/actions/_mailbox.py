"""Mail addresses and header values that no inserted text can turn into structure.

Used by the ``email`` step for both providers. A header value (``to``, ``from``,
``subject``, ``reply_to``, ``cc``, ``bcc``, display names included) is refused when it holds
a line break (CR, LF, NEL, U+2028, U+2029...), any other control character, or an RFC 2047
encoded word (``=?utf-8?q?...?=``), which the email package and mail readers decode into
any text, line breaks included: refused rather than rewritten, so what is sent is what the
rule rendered. An address must parse as exactly one mailbox; a display name may not hold
``<``, ``>``, ``"`` or a backslash. ``,`` and ``;`` in a name are quoted
(:class:`email.headerregistry.Address` for SMTP, double quotes for SendGrid).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Any

from ..errors import AdapterError
from . import _http

__all__ = ["Mailbox", "check_header_params", "check_header_value", "mailboxes", "parse_mailbox"]

# Header-like parameters: a line break in one of them would start a new header.
_HEADER_PARAMS = ("to", "from", "subject", "reply_to", "cc", "bcc")
_ADDRESS_LIST_PARAMS = ("to", "reply_to", "cc", "bcc")
# Every character that str.splitlines() (and so the email package) treats as a line break.
_LINE_BREAKS = frozenset("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")
# Characters a display name may not hold: they would close the name or open an address.
_NAME_REFUSED = '<>"\\'
# Characters SendGrid reads as separators between recipients inside a name.
_SENDGRID_SEPARATORS = ",;"


def _fail(message: str) -> AdapterError:
    return AdapterError(f"email: {message}", retryable=False)


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One checked address: ``addr`` is the bare ``local@domain``, ``name`` the display name."""

    addr: str
    name: str

    def address(self) -> Address:
        """The mailbox as an :class:`email.headerregistry.Address` (it quotes the name)."""
        return Address(display_name=self.name, addr_spec=self.addr)

    def header(self) -> str:
        return str(self.address())

    def sendgrid(self) -> dict[str, str]:
        if not self.name:
            return {"email": self.addr}
        name = self.name
        if any(ch in name for ch in _SENDGRID_SEPARATORS):
            name = f'"{name}"'  # SendGrid splits an unquoted name at , and ;
        return {"email": self.addr, "name": name}


def parse_mailbox(value: str, param: str) -> Mailbox:
    """Check one address (``a@b.example`` or ``Name <a@b.example>``)."""
    raw = value.strip()
    name = ""
    addr = raw
    if raw.endswith(">") and "<" in raw:
        name, _, addr = raw[:-1].rpartition("<")
        name = name.strip().strip('"').strip()
        addr = addr.strip()
    problem = None
    local, _, domain = addr.partition("@")
    if addr.count("@") != 1 or not local or not domain:
        problem = "needs exactly one '@' with text on both sides"
    elif any(ch.isspace() for ch in addr) or any(ch in addr for ch in '<>,;"()'):
        problem = 'holds spaces or one of < > , ; " ( )'
    elif "." not in domain or domain.startswith(".") or domain.endswith(".") or ".." in domain:
        problem = "needs a domain with a dot"
    elif any(ch in name for ch in "<>"):
        problem = "has '<' or '>' in its display name"
    elif any(ch in name for ch in _NAME_REFUSED):
        problem = "has a quote or a backslash in its display name"
    else:
        try:
            parsed = Address(addr_spec=addr)
        except (ValueError, IndexError, HeaderParseError) as exc:
            problem = f"does not parse ({exc})"
        else:
            if parsed.addr_spec != addr:
                problem = "does not parse as one address"
    if problem is not None:
        raise _fail(f"{param}: {raw!r} is not an email address: it {problem}")
    return Mailbox(addr=addr, name=name)


def mailboxes(value: Any, param: str, *, required: bool) -> tuple[Mailbox, ...]:
    if value is None or value == "" or value == []:
        if required:
            raise _fail(f"{param} is empty: no address to send to")
        return ()
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise _fail(f"{param} must be an address or a list of addresses")
    boxes = tuple(parse_mailbox(item, param) for item in items if item.strip())
    if required and not boxes:
        raise _fail(f"{param} is empty: no address to send to")
    return boxes


def check_header_value(param: str, item: str) -> None:
    """Refuse what could turn ``item`` into more header structure than one value."""
    if any(ch in _LINE_BREAKS for ch in item):
        raise _fail(
            f"{param} contains a line break (CR or LF): refusing to send, "
            "as it could inject mail headers"
        )
    if _http.control_characters(item, allow="\t"):
        raise _fail(f"{param} contains a control character: refusing to send")
    if _http.ENCODED_WORD.search(item):
        raise _fail(
            f"{param} contains an RFC 2047 encoded word (=?...?=): refusing to send, "
            "as a mail reader would decode it into headers or text the rule did not write"
        )


def check_header_params(params: dict[str, Any]) -> None:
    for param in _HEADER_PARAMS:
        value = params.get(param)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, str):
                check_header_value(param, item)

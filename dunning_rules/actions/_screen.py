"""The safety screen for drafts that a language model wrote (the ``llm`` step).

:func:`screen_draft` returns the reason to reject a draft, or None when it may be sent. A draft
is rejected when it

- is empty, or only whitespace and invisible characters;
- holds a 13-19 digit number: digits possibly separated by spaces, line breaks, slashes, dots,
  dashes or other punctuation, written in any script or as words ("four two four two ...");
- asks for a card number, a security code (CVC, CVV, CVV2, CID), an expiry date, a PIN, a
  password or a one-time code, or a picture of the card, in English, Spanish, French, German,
  Portuguese or Italian, whatever disguise the letters wear (see :mod:`._screen_normalize`)
  and whatever clause comes first (see :mod:`._screen_request`);
- lacks one of the ``must_include`` strings (e.g. the payment link);
- has more than ``max_sentences`` sentences.

The screen is the last line of defence against a model that followed instructions hidden in
customer data, so it errs on the strict side: a clause that names a secret is rejected unless
it only says that nobody will ask for it ("We will never ask for your password.") or only
reports the card's state ("your card ending in 4242 was declined"). Softer words ("card
details", "bank details") are rejected only where the customer is asked to send them.

Everything here is a pure function of its arguments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ._screen_normalize import digit_text, fold_text
from ._screen_request import Finding, find_request

__all__ = [
    "Finding",
    "count_sentences",
    "explain_request",
    "find_card_number",
    "find_sensitive_request",
    "screen_draft",
    "split_sentences",
]

_CARD_DIGITS = range(13, 20)
_PHONE_DIGITS = 15  # E.164: an international phone number has at most 15 digits
# Digit groups with at most three separators between them (no letters, no currency signs).
_SEPARATOR = r"[\s.\-_/|\\,:;'*~\u00b7\u2022\u2010-\u2015\u2212]{1,3}"
_DIGIT_CHAIN = re.compile(rf"(?<!\d)\d+(?:{_SEPARATOR}\d+)*")
_GROUP = re.compile(r"\d+")
# Dates and times are not parts of a number: "01.08.2026 - 31.08.2026" is two dates.
_DATE = re.compile(
    r"(?<!\d)(?:(?P<d>\d{1,2})[./-](?P<m>\d{1,2})[./-](?:\d{4}|\d{2})"
    r"|\d{4}-(?P<m2>\d{2})-(?P<d2>\d{2})|(?P<h>\d{1,2}):(?P<min>\d{2}))(?!\d)"
)


# Full stops: Latin ones need a space after them (not "example.com"), CJK ones do not.
_LATIN_STOPS = ".!?\u2026"
_CJK_STOPS = "\u3002\uff01\uff1f"
_TERMINATORS = _LATIN_STOPS + _CJK_STOPS
_CLOSERS = "\"')]\u201d\u2019\u00bb"
_SENTENCE_END = re.compile(
    f"(?<=[{re.escape(_LATIN_STOPS)}])[{re.escape(_CLOSERS)}]*\\s+"
    f"|(?<=[{re.escape(_CJK_STOPS)}])[{re.escape(_CLOSERS)}]*\\s*"
)
_WORD = re.compile(r"\w+")
# A line without a closing full stop counts as a sentence only from this many words on, so a
# greeting ("Hi Jane,") and a signature ("The Acme team") do not count.
_MIN_WORDS_UNTERMINATED = 5


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``: pieces of a line that end with ``.``, ``!`` or ``?``."""
    sentences: list[str] = []
    for line in text.splitlines():
        for piece in _SENTENCE_END.split(line):
            stripped = piece.strip()
            if _WORD.search(stripped):
                sentences.append(stripped)
    return sentences


def count_sentences(text: str) -> int:
    """How many sentences ``text`` has.

    A piece that ends with ``.``, ``!``, ``?`` or ``…`` counts; a piece without one counts
    only from five words on, so greetings ("Hi Jane,") and signatures ("The Acme team") do
    not count, while a last sentence that lacks its full stop does.
    """
    total = 0
    for sentence in split_sentences(text):
        terminated = sentence.rstrip(_CLOSERS)[-1:] in _TERMINATORS
        if terminated or len(_WORD.findall(sentence)) >= _MIN_WORDS_UNTERMINATED:
            total += 1
    return total


def _hide_dates(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        day, month = match.group("d") or match.group("d2"), match.group("m") or match.group("m2")
        if day is not None and month is not None:
            plausible = 1 <= int(day) <= 31 and 1 <= int(month) <= 12
        else:
            plausible = int(match.group("h")) <= 23 and int(match.group("min")) <= 59
        return " # " if plausible else match.group(0)

    return _DATE.sub(replace, text)


def find_card_number(text: str) -> str | None:
    """The digits of the first 13-19 digit number in ``text``, or None.

    Groups of digits with up to three separators between them (spaces, line breaks, ``. - /
    _ | , : ;`` and the like) make one number; any run of consecutive groups with 13 to 19
    digits in all counts (the longest such run from the first group that starts one), so a
    card number followed by an expiry date is still found. Digits
    of other scripts, full-width digits and spelled digits ("four two four two ...") count;
    dates and times do not join. A number written as an international phone number (``+``
    first) counts only from 16 digits, since phone numbers have up to 15, and a number that
    starts with 0 (a trunk or international prefix) is no card number.
    """
    prepared = _hide_dates(digit_text(text))
    for chain in _DIGIT_CHAIN.finditer(prepared):
        groups = _GROUP.findall(chain.group(0))
        phone = prepared[: chain.start()].rstrip().endswith("+")
        for first, group in enumerate(groups):
            if group[0] == "0":
                continue  # card numbers never start with 0 ("0049 30 1234 5678" is a phone)
            total, longest = 0, None
            for last in range(first, len(groups)):
                total += len(groups[last])
                if total > max(_CARD_DIGITS):
                    break
                if total in _CARD_DIGITS and not (phone and first == 0 and total <= _PHONE_DIGITS):
                    longest = last
            if longest is not None:
                return "".join(groups[first : longest + 1])
    return None


def explain_request(text: str) -> Finding | None:
    """What ``text`` asks the customer for, with the words and the clause that ask, or None."""
    return find_request(text)


def find_sensitive_request(text: str) -> str | None:
    """What ``text`` asks the customer for that a dunning email must never ask for, or None.

    Returns a label such as ``"a card number"`` or ``"a security code"``.
    """
    finding = find_request(text)
    return finding.label if finding is not None else None


def screen_draft(
    text: str,
    *,
    max_sentences: int | None = None,
    must_include: Sequence[str] = (),
) -> str | None:
    """Why ``text`` must not be sent, or None when it passes the screen.

    ``max_sentences`` caps the number of sentences (see :func:`count_sentences`);
    ``must_include`` lists strings that must appear verbatim (e.g. the payment link).
    """
    folded = fold_text(text)
    if not folded:
        return "the draft is empty"
    if find_card_number(text) is not None:
        return "the draft holds a 13-19 digit number (a card number?)"
    asked = find_request(text, folded=folded)
    if asked is not None:
        return f"the draft asks for {asked.label}"
    for needed in must_include:
        if needed and needed not in text:
            return f"the draft lacks {needed!r}"
    if max_sentences is not None:
        found = count_sentences(text)
        if found > max_sentences:
            return f"the draft has {found} sentences, more than max_sentences={max_sentences}"
    return None

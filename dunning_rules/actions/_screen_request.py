"""Does a draft ask the customer for card data? The decision of the draft screen.

The draft is folded (:func:`._screen_normalize.fold_text`), cut into sentences and each
sentence into clauses: at ``; :``, dashes and line breaks, before words that start a new
clause ("so", "but", "if", "please", "donc", "also", "quindi" ...), and at a comma or an "and"
that a subject, a negation or a verb follows. A clause that names a secret (a card number, a
security code, an expiry date, a PIN, a password, a one-time code, a picture of the card) is
a request, unless

- it refuses: a negation governs a verb of asking or sending ("we will never ask for your
  PIN", "ne communiquez jamais", "geben Sie Ihre PIN niemals weiter"), or it warns ("keep
  your PIN secret", "if someone asks for it, it is a scam"); and no verb in the clause asks
  the customer to send or type anything;
- or it reports the card's state ("your card's expiry date has passed", "the card number
  ending in 4242 was declined"), and nothing in the sentence asks for anything.

So "We will never ask for your PIN, so simply type your card number" is two clauses, and the
second asks. "Card details" and the like count only where a verb asks to send them ("reply
with your card details"), not on the payment page ("update your card details at <link>").
A clause with a secret that a later clause of the sentence, or the next sentence, asks the
customer to send as "it" or "them" ("your CVV was wrong, please reply with it") is a request.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from ._screen_normalize import fold_text
from ._screen_terms import (
    ASK_VERBS,
    CALL_BEFORE,
    CARD_WORD,
    CHAIN,
    CHECK,
    CLAUSE_BREAK,
    COMMA_BREAK_WORDS,
    CUSTOMER_VERBS,
    FINAL_PARTICLES,
    FINAL_VERBS,
    HESITATION,
    IMPERATIVE_PRONOUNS,
    MARKERS,
    MENTIONS,
    MESSAGE_VERBS,
    MULTIWORD_VERBS,
    NEED,
    NEGATORS,
    POSTPOSED_NEGATORS,
    PROTECTIVE,
    STATUS,
    Mention,
)

__all__ = ["Finding", "find_request"]

_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])(?!\d)\s*|\n")
_TOKEN = re.compile(r"[a-z0-9]+")
_CHAIN_LIMIT = 7
# Object pronouns that stand for a secret named before: "reply with it", "envoyez-le-nous".
_PRONOUN = frozenset(
    re.findall(
        r"\w+", "it them these those lo la los las le les nos ihn es sie diese o os as li ne ce"
    )
)
_PRONOUN_SUFFIX = re.compile(r"(?:lo|la|los|las|melo|celo|noslo|nosla|mela|cela)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """What a draft asks for: the label for the reason, the words found and their clause."""

    label: str
    term: str
    clause: str


@dataclass(frozen=True, slots=True)
class _Clause:
    text: str
    tokens: tuple[str, ...]


def _split(text: str, pattern: re.Pattern[str]) -> list[str]:
    """Cut ``text`` at the zero-width or one-character breaks that ``pattern`` finds."""
    cuts = [0]
    for match in pattern.finditer(text):
        after = match.groupdict().get("next") or match.groupdict().get("after")
        if after is not None and after not in COMMA_BREAK_WORDS:
            continue
        cuts.append(match.start())
        if match.end() > match.start():
            cuts.append(match.end())
    cuts.append(len(text))
    pieces = (text[a:b].strip(" ,") for a, b in itertools.pairwise(cuts))
    return [piece for piece in pieces if _TOKEN.search(piece)]


def _clauses(sentence: str) -> list[_Clause]:
    return [
        _Clause(piece, tuple(_TOKEN.findall(piece))) for piece in _split(sentence, CLAUSE_BREAK)
    ]


def _negated(tokens: tuple[str, ...], index: int) -> bool:
    """Whether a negation governs the verb at ``index``."""
    for back in range(index - 1, max(-1, index - 1 - _CHAIN_LIMIT), -1):
        word = tokens[back]
        if word in NEGATORS:
            return True
        if word not in CHAIN and word not in ASK_VERBS and word not in CUSTOMER_VERBS:
            break
    after = tokens[index + 1 :]
    if after and after[0] in IMPERATIVE_PRONOUNS and POSTPOSED_NEGATORS.intersection(after):
        return True  # "geben Sie Ihre PIN niemals weiter"
    return (
        tokens[index] in FINAL_VERBS
        and all(word in FINAL_PARTICLES for word in after)
        and any(word in NEGATORS for word in tokens[:index])
    )  # "wir werden Sie niemals nach Ihrer PIN fragen"


def _positive_verbs(tokens: tuple[str, ...], verbs: frozenset[str]) -> list[int]:
    """Positions of ``verbs`` that ask for something: not negated, not "to send", "by email"."""
    found = []
    for index, word in enumerate(tokens):
        if word not in verbs:
            continue
        if index and tokens[index - 1] in MARKERS:
            continue
        if not _negated(tokens, index):
            found.append(index)
    return found


def _refuses(clause: _Clause) -> bool:
    """True for a clause that only says the secret is never asked for, or warns about it."""
    tokens = clause.tokens
    refusal = any(
        (word in ASK_VERBS or word in CUSTOMER_VERBS) and _negated(tokens, index)
        for index, word in enumerate(tokens)
    )
    if not refusal and not PROTECTIVE.search(clause.text):
        return False
    return not _positive_verbs(tokens, CUSTOMER_VERBS)


def _asks(text: str) -> bool:
    """Whether ``text`` (a sentence) asks for anything: a verb of sending, a need, a question."""
    tokens = tuple(_TOKEN.findall(text))
    return bool(_positive_verbs(tokens, CUSTOMER_VERBS)) or bool(NEED.search(text)) or "?" in text


def _mentions(clause: _Clause, sentence: str) -> list[tuple[int, Mention, str]]:
    found = []
    for mention in MENTIONS:
        if mention.needs_card and not CARD_WORD.search(sentence):
            continue
        for match in mention.pattern.finditer(clause.text):
            before = clause.text[max(0, match.start() - 40) : match.start()]
            if mention.label in ("a card number", "a security code") and CALL_BEFORE.search(before):
                continue  # "call the number on the back of your card"
            found.append((match.start(), mention, match.group(0)))
    found.sort(key=lambda item: item[0])
    return found


def _refers_back(clause: _Clause) -> bool:
    """A clause that asks to send "it" or "them": a secret named before."""
    tokens = clause.tokens
    for index in _positive_verbs(tokens, MESSAGE_VERBS):
        near = tokens[max(0, index - 2) : index + 4]
        if _PRONOUN.intersection(near) or _PRONOUN_SUFFIX.search(tokens[index]):
            return True
    return False


def _prepare(folded: str) -> str:
    folded = HESITATION.sub(" please ", folded)
    for pattern, verb in MULTIWORD_VERBS:
        folded = pattern.sub(verb, folded)
    return folded


def find_request(text: str, *, folded: str | None = None) -> Finding | None:
    """The first secret that ``text`` asks the customer for, or None.

    ``folded`` is ``fold_text(text)`` when the caller has it already.
    """
    folded = fold_text(text) if folded is None else folded
    sentences = [s for s in _SENTENCE_END.split(_prepare(folded)) if _TOKEN.search(s)]
    named: Finding | None = None  # a secret the previous sentence named without asking
    for sentence in sentences:
        clauses = _clauses(sentence)
        if named is not None and any(_refers_back(clause) for clause in clauses):
            return named
        named = None
        sentence_asks = _asks(sentence)
        for position, clause in enumerate(clauses):
            mentions = _mentions(clause, sentence)
            refuses = bool(mentions) and _refuses(clause)
            for _, mention, term in mentions:
                finding = Finding(label=mention.label, term=term, clause=clause.text)
                if not mention.hard:
                    if refuses:
                        continue
                    if _positive_verbs(clause.tokens, MESSAGE_VERBS) or NEED.search(clause.text):
                        return finding
                    continue
                reports = STATUS.search(clause.text) or CHECK.search(clause.text)
                harmless = refuses or (mention.status and reports is not None and not sentence_asks)
                if not harmless or any(_refers_back(other) for other in clauses[position + 1 :]):
                    return finding
                named = named or finding
    return None

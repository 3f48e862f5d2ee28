"""The safety screen for drafts that a language model wrote (the ``llm`` step).

:func:`screen_draft` returns the reason to reject a draft, or None when it may be sent. A draft
is rejected when it

- is empty or only whitespace;
- holds a 13-19 digit number, digits possibly separated by spaces, dots or dashes (a card
  number, e.g. ``4242 4242 4242 4242``);
- asks for card numbers, CVC/CVV/security codes, expiry dates, passwords or PINs (English,
  French, German and Spanish words);
- lacks one of the ``must_include`` strings (e.g. the payment link);
- has more than ``max_sentences`` sentences.

The screen is the last line of defence against a model that followed instructions hidden in
customer data, so it errs on the strict side: a sentence that names a card number, a security
code, an expiry date, a password or a PIN is rejected unless it only says that nobody will ask
for them ("We will never ask for your password."). Softer words ("card details", "bank
details") are rejected only where the customer is asked to send them ("reply with your card
details"); "update your payment method at <link>" and "your card was declined" pass.

Everything here is a pure function of its arguments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = [
    "count_sentences",
    "find_card_number",
    "find_sensitive_request",
    "screen_draft",
    "split_sentences",
]

# 13 to 19 digits; one space, no-break space, dot or dash may separate two digits.
_CARD_NUMBER = re.compile(r"(?<!\d)\d(?:[ \u00a0.\-]?\d){12,18}(?!\d)")

# Words that name a secret the customer must never send. (label, pattern)
_SECRETS: tuple[tuple[str, str], ...] = (
    (
        "a card number",
        r"card\s*(?:number|no\b|#)|credit\s*card\s*(?:number|no\b)"
        r"|num[ée]ro\s+de\s+(?:la\s+|votre\s+|ta\s+)?carte"
        r"|(?:karten|kreditkarten)(?:nummer|nr\b)"
        r"|n[úu]mero\s+de\s+(?:la\s+|su\s+|tu\s+)?tarjeta",
    ),
    (
        "a security code",
        r"\bcvc2?\b|\bcvv2?\b|\bcsc\b|\bcid\b|security\s+code|card\s+verification"
        r"|cryptogramme|code\s+de\s+s[ée]curit[ée]|code\s+(?:cvv|cvc)"
        r"|pr[üu]f(?:ziffer|nummer|code)|sicherheits(?:code|nummer)"
        r"|c[óo]digo\s+de\s+seguridad|c[óo]digo\s+(?:cvv|cvc)",
    ),
    (
        "an expiry date",
        r"expir(?:y|ation)\s+date|exp\.?\s+date|expiry\b|\bmm\s*/\s*yy"
        r"|date\s+d'?(?:expiration|[ée]ch[ée]ance)|date\s+de\s+validit[ée]"
        r"|ablaufdatum|g[üu]ltigkeits(?:datum|dauer)|verfallsdatum"
        r"|fecha\s+de\s+(?:vencimiento|caducidad|expiraci[óo]n)",
    ),
    (
        "a password or PIN",
        r"pass\s*word|passcode|\bpin\b|\bpin\s*(?:code|number)"
        r"|mot\s+de\s+passe|code\s+(?:pin|confidentiel)"
        r"|passwort|kennwort|geheimzahl|\bpin-?nummer"
        r"|contrase[ñn]a|\b(?:su|tu)\s+clave\b|\bclave\s+(?:secreta|de\s+acceso|pin)\b",
    ),
)

# Words that are fine to mention ("update your card details at <link>") unless the customer is
# asked to send them.
_SOFT: tuple[tuple[str, str], ...] = (
    (
        "card or bank details",
        r"card\s+(?:details|info(?:rmation)?|data)|bank\s+(?:details|account)"
        r"|account\s+number|payment\s+(?:details|info(?:rmation)?)"
        r"|coordonn[ée]es\s+bancaires|donn[ée]es\s+de\s+(?:la\s+)?carte"
        r"|kartendaten|bankdaten|kontonummer|zahlungsdaten"
        r"|datos\s+de\s+(?:la\s+|su\s+)?tarjeta|datos\s+bancarios",
    ),
)

# Verbs that ask the customer to hand something over by message. Web-form verbs ("enter your
# new card details at <link>") are not among them: the payment page is where they belong.
_REQUEST = re.compile(
    r"\b(?:reply|respond|send|e-?mail|text|tell|give|provide|share|write|confirm|verify"
    r"|include|call|let\s+us\s+know|what\s+is|what's"
    r"|envoye[zr]|r[ée]pond(?:ez|re)|communique[zr]|indique[zr]|fournisse[zr]"
    r"|donne[zr]|transmette[zr]|partage[zr]|confirme[zr]"
    r"|senden|schicken|antworten|teilen|geben|nennen|mitteilen|[üu]bermitteln|best[äa]tigen"
    r"|angeben"
    r"|env[íi](?:e|a|enos|anos|ar)|respond(?:a|e|er)|indique|proporcione|comparta|comparte"
    r"|facilite|escriba|confirme|d[íi]ganos)\b"
)
# Verbs of a reassurance: "we will never ask for ...", "do not share ...".
_ASK = (
    r"(?:ask|request|share|send|e-?mail|give|disclose|need|require|reply|text|call"
    r"|demand|partag|envoy|communiqu"
    r"|frag|fordern|anfordern|bitten|teilen|senden|weitergeben|verlangen"
    r"|pid|pedi|solicit|compart|env[íi])\w*"
)
_NEGATION = r"(?:n't|\b(?:never|not|nunca|jamais|niemals|nie|nicht|no))"
# A negation right before the verb (English, Spanish), or right after it, perhaps after a
# pronoun (French "ne partagez jamais", German "teilen Sie niemals").
_NEGATED_VERB = re.compile(
    rf"(?:{_NEGATION}\s+(?:ever\s+|vous\s+|te\s+|le\s+|la\s+|les\s+|lo\s+)?\b{_ASK})"
    rf"|(?:\b{_ASK}\s+(?:sie\s+|vous\s+|wir\s+|ihnen\s+|dich\s+|ihr\s+)*"
    rf"(?:jamais|pas|niemals|nie|nicht)\b)"
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


def _normalize(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u00a0", " ").lower()


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


def find_card_number(text: str) -> str | None:
    """The first 13-19 digit number in ``text`` (digits possibly separated), or None."""
    found = _CARD_NUMBER.search(text)
    return found.group(0) if found else None


def _has_positive_request(sentence: str) -> bool:
    """True when ``sentence`` asks the customer for something (not only "never send ...")."""
    negated_spans = [m.span() for m in _NEGATED_VERB.finditer(sentence)]
    for match in _REQUEST.finditer(sentence):
        start, end = match.span()
        if not any(s <= start and end <= e for s, e in negated_spans):
            return True
    return False


def _is_reassurance(sentence: str) -> bool:
    """True for "we will never ask for your password"-like sentences that request nothing."""
    return bool(_NEGATED_VERB.search(sentence)) and not _has_positive_request(sentence)


def _first(patterns: Iterable[tuple[str, str]], sentence: str) -> str | None:
    for label, pattern in patterns:
        if re.search(pattern, sentence):
            return label
    return None


def find_sensitive_request(text: str) -> str | None:
    """What ``text`` asks the customer for that a dunning email must never ask for, or None.

    Returns a label such as ``"a card number"`` or ``"a security code"``.
    """
    for sentence in split_sentences(_normalize(text)):
        secret = _first(_SECRETS, sentence)
        if secret is not None and not _is_reassurance(sentence):
            return secret
        soft = _first(_SOFT, sentence)
        if soft is not None and _has_positive_request(sentence):
            return soft
    return None


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
    if not text.strip():
        return "the draft is empty"
    if find_card_number(text) is not None:
        return "the draft holds a 13-19 digit number (a card number?)"
    asked = find_sensitive_request(text)
    if asked is not None:
        return f"the draft asks for {asked}"
    for needed in must_include:
        if needed and needed not in text:
            return f"the draft lacks {needed!r}"
    if max_sentences is not None:
        found = count_sentences(text)
        if found > max_sentences:
            return f"the draft has {found} sentences, more than max_sentences={max_sentences}"
    return None

"""Normalisation for the draft screen: the text a reader sees, in one plain form.

A draft can hide what it asks for from a naive pattern: zero-width or bidi characters inside a
word, look-alike letters from other scripts (a Cyrillic ``a`` for the Latin one), full-width or
mathematical letters, decomposed accents, HTML entities and tags, soft hyphens, letters spelled
out one by one (``C.V.V.``, ``p a s s w o r d``), digits for letters (``p4ssw0rd``), or a
card number broken into groups by slashes, dots or line breaks. The screen matches on
:func:`fold_text`, which undoes all of these, and looks for numbers in :func:`digit_text`.

Both are pure functions; the tables here are constants.
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["digit_text", "fold_text", "visible_text"]

# Characters that render as nothing (Hangul fillers, the Braille blank) but are letters or
# symbols, so that the Unicode category alone does not remove them.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]")
_SOFT_HYPHEN_BREAK = re.compile(r"\u00ad[ \t]*\n")

# Letters of other scripts that look like Latin ones; applied before case folding, because
# upper and lower case of one letter can look like different Latin letters (Greek capital eta
# looks like H, small eta like n).
_LOOKALIKES = {
    # Cyrillic
    "\u0410": "A", "\u0430": "a", "\u0412": "B", "\u0432": "b", "\u0415": "E", "\u0435": "e",
    "\u0401": "E", "\u0451": "e", "\u041a": "K", "\u043a": "k", "\u041c": "M", "\u043c": "m",
    "\u041d": "H", "\u043d": "h", "\u041e": "O", "\u043e": "o", "\u0420": "P", "\u0440": "p",
    "\u0421": "C", "\u0441": "c", "\u0422": "T", "\u0442": "t", "\u0423": "Y", "\u0443": "y",
    "\u0425": "X", "\u0445": "x", "\u0405": "S", "\u0455": "s", "\u0406": "I", "\u0456": "i",
    "\u0407": "I", "\u0457": "i", "\u0408": "J", "\u0458": "j", "\u04ba": "H", "\u04bb": "h",
    "\u04ae": "Y", "\u04af": "y", "\u0500": "D", "\u0501": "d", "\u051a": "Q", "\u051b": "q",
    "\u051c": "W", "\u051d": "w", "\u04c0": "I", "\u04cf": "l", "\u0433": "r", "\u043f": "n",
    "\u0438": "u", "\u042c": "b", "\u044c": "b", "\u0492": "F", "\u04bd": "e", "\u04bc": "E",
    "\u050d": "G",
    # Greek
    "\u0391": "A", "\u03b1": "a", "\u0392": "B", "\u03b2": "b", "\u0395": "E", "\u03b5": "e",
    "\u0396": "Z", "\u0397": "H", "\u03b7": "n", "\u0399": "I", "\u03b9": "i", "\u039a": "K",
    "\u03ba": "k", "\u039c": "M", "\u039d": "N", "\u03bd": "v", "\u039f": "O", "\u03bf": "o",
    "\u03a1": "P", "\u03c1": "p", "\u03a4": "T", "\u03c4": "t", "\u03a5": "Y", "\u03c5": "u",
    "\u03a7": "X", "\u03c7": "x", "\u03b3": "y", "\u03c9": "w", "\u03c2": "c", "\u03f9": "C",
    "\u03f2": "c", "\u037f": "J",
    # Armenian
    "\u0585": "o", "\u0555": "O", "\u057d": "u", "\u054d": "U", "\u0570": "h", "\u0578": "n",
    "\u0581": "g", "\u0566": "q", "\u0561": "w", "\u0575": "j", "\u0584": "p", "\u054f": "S",
    "\u053c": "L",
    # Latin letters that are not plain ASCII but look like it (small capitals and others)
    "\u1d00": "a", "\u0299": "b", "\u1d04": "c", "\u1d05": "d", "\u1d07": "e", "\ua730": "f",
    "\u0262": "g", "\u029c": "h", "\u026a": "i", "\u1d0a": "j", "\u1d0b": "k", "\u029f": "l",
    "\u1d0d": "m", "\u0274": "n", "\u1d0f": "o", "\u1d18": "p", "\u0280": "r", "\ua731": "s",
    "\u1d1b": "t", "\u1d1c": "u", "\u1d20": "v", "\u1d21": "w", "\u028f": "y", "\u1d22": "z",
    "\u0131": "i", "\u0237": "j", "\u0251": "a", "\u0261": "g", "\u0269": "i", "\u028b": "u",
    "\u0252": "a", "\ua7b5": "b", "\u00df": "ss", "\u00e6": "ae", "\u00c6": "AE",
    "\u0153": "oe", "\u0152": "OE", "\u00f8": "o", "\u00d8": "O", "\u0142": "l", "\u0141": "L",
    "\u0111": "d", "\u0110": "D", "\u00f0": "d", "\u00fe": "p", "\u0140": "l",
}  # fmt: skip
# Cherokee capitals that look like Latin capitals (their case folding goes both ways).
_CHEROKEE = (
    "\u13aa\u13f4\u13df\u13a0\u13ac\u13c0\u13bb\u13ab\u13e6\u13de"
    "\u13b7\u13e2\u13da\u13a2\u13d9\u13b3\u13c3\u13a1\u13d2\u13c6"
)
_LOOKALIKE_TABLE = str.maketrans(
    {
        **_LOOKALIKES,
        **dict(zip(_CHEROKEE, "ABCDEGHJKLMPSTVWZRRB", strict=True)),
        **dict(zip(_CHEROKEE.lower(), "abcdeghjklmpstvwzrrb", strict=True)),
    }
)

_TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z][a-zA-Z0-9]*)\b[^<>]*>")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_BLOCK_TAGS = frozenset(
    re.findall(
        r"\w+",
        "br p div li ul ol tr td th table tbody thead h1 h2 h3 h4 h5 h6 hr blockquote section "
        "article header footer pre dl dt dd center",
    )
)

# A digit written as a word, in the six languages of the screen (articles such as "un" or
# "ein" are left out: they precede nouns far more often than they spell a digit).
_DIGIT_WORDS = {
    **dict.fromkeys(("zero", "cero", "zéro", "null", "zéro"), "0"),
    **dict.fromkeys(("one", "uno", "eins"), "1"),
    **dict.fromkeys(("two", "dos", "deux", "zwei", "due", "dois", "duas"), "2"),
    **dict.fromkeys(("three", "tres", "trois", "drei", "tre", "três"), "3"),
    **dict.fromkeys(("four", "cuatro", "quatre", "vier", "quattro", "quatro"), "4"),
    **dict.fromkeys(("five", "cinco", "cinq", "fünf", "cinque"), "5"),
    **dict.fromkeys(("six", "seis", "sechs", "sei"), "6"),
    **dict.fromkeys(("seven", "siete", "sept", "sieben", "sette", "sete"), "7"),
    **dict.fromkeys(("eight", "ocho", "huit", "acht", "otto", "oito"), "8"),
    **dict.fromkeys(("nine", "nueve", "neuf", "neun", "nove"), "9"),
}
_DIGIT_WORD = re.compile(
    r"\b(?:" + "|".join(sorted(map(re.escape, _DIGIT_WORDS), key=len, reverse=True)) + r")\b"
)
# A run of spelled digits: at least four digit words in a row.
_DIGIT_WORD_RUN = re.compile(
    rf"(?:{_DIGIT_WORD.pattern}[\s,.\-]*){{4,}}",
)

# Letters written as digits or signs ("p4ssw0rd"), inside a word with at least two letters.
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
_LEET_WORD = re.compile(r"(?<![\w@$])(?=[\w@$]*[a-z][\w@$]*[a-z])(?=[\w@$]*[013457@$])[\w@$]+")
_KEEP_DIGITS = re.compile(r"(?:cvv|cvc|cav|cvn|cid|cvd)\d|[a-z]?\d+[a-z]{0,3}|\d+[a-z]+\d*")

_APOSTROPHES = "'\u2019\u2018`\u00b4\u02bc\u02b9\u2032"
# "d'expiration", "l'anno", "qu'il": an elided article or pronoun, kept apart from the word.
_ELISION = re.compile(rf"\b(qu|[a-z])[{_APOSTROPHES}](?=[a-z])")
_APOSTROPHE = re.compile(rf"(?<=[a-z])[{_APOSTROPHES}](?=[a-z])")
# Single letters spelled out with separators: "c.v.v", "c-v-c", "p i n", "c a r d".
_SPELLED = re.compile(r"(?<![a-z0-9])[a-z](?:(?:[\s.\-_*\u00b7/|~+]){1,3}[a-z](?![a-z0-9]))+")
_INNER_PUNCT = re.compile(r"(?<=[a-z])[.\-_/|*\u00b7~+^=](?=[a-z])")
_WORD_AT = re.compile(r"[a-z]+")
# Words a separator inside a word may be hiding ("ca.rd", "pass/word", "e-mail"): such a
# separator is removed; any other one becomes a space ("envoyez-nous", "card/cvv").
_VOCABULARY = re.compile(
    r"card|cards|number|numbers|digits?|code|codes|pin|pins|cvv|cvc|cid|otp|pass|word|password"
    r"|passwords|passcode|security|securite|seguridad|seguranca|sicurezza|verification|expiry"
    r"|expiration|expires?|email|mail|retype|tarjetas?|numeros?|digitos|cifras|contrasenas?"
    r"|vencimiento|caducidad|codigo|carte|chiffres|passe|cryptogramme|validite|karte|karten"
    r"|\w*(?:karten?|nummer|ziffer|zahl|datum|code|wort|daten)\w*|cartao|senha|validade"
    r"|vencimento|carta|cifre|numeri|codice|scadenza|mmyy|mmaa|mmjj|reverso|verso|retro"
    r"|front|back|embossed|relieve|relief|rilievo|relevo|clave|credit|details|signature"
)
_KEPT_PUNCT = ".,;:!?\u2026()\n\u2013\u2014"
_SPACED_DASH = re.compile(r"(?<=\s)-(?=\s)")
_OTHER = re.compile(rf"[^a-z0-9\s{re.escape(_KEPT_PUNCT)}]")
_SPACES = re.compile(r"[^\S\n]+")
_BREAKS = re.compile(r"\s*\n[\s\n]*")


def _strip_markup(text: str) -> str:
    """Text without HTML tags, comments and entities; block tags become line breaks."""
    if "<" not in text and "&" not in text:
        return text

    def tag(match: re.Match[str]) -> str:
        return "\n" if match.group(2).lower() in _BLOCK_TAGS else ""

    for _ in range(3):  # entities may spell tags or other entities ("&amp;lt;b&amp;gt;")
        before = text
        text = _SCRIPT.sub("", text)
        text = _COMMENT.sub("", text)
        text = _TAG.sub(tag, text)
        text = html.unescape(text)
        if text == before:
            break
    return text


def visible_text(text: str) -> str:
    """``text`` as it shows: markup out, NFKC, no invisible or control characters.

    Line breaks become ``\\n`` and every other space character a plain space; digits of any
    script become ASCII digits. Case, accents and look-alike letters are kept.
    """
    text = unicodedata.normalize("NFKC", _strip_markup(text))
    text = _LINE_BREAKS.sub("\n", text)
    text = _SOFT_HYPHEN_BREAK.sub("-", text)  # a word hyphenated across a line break
    out: list[str] = []
    for char in text:
        if char in "\n\t ":
            out.append(char)
            continue
        category = unicodedata.category(char)
        if category in ("Cf", "Cc", "Cs", "Co", "Cn") or char in _INVISIBLE:
            continue
        if category == "Zs":
            out.append(" ")
        elif category == "Nd":
            out.append(str(unicodedata.digit(char)))
        else:
            out.append(char)
    return "".join(out)


def _join_lines(text: str) -> str:
    """Keep a line break where a line ends a sentence or the next one starts afresh.

    A line that ends in a letter or comma and is followed by one that starts with a small
    letter is a wrapped sentence: the break becomes a space. Every other break, and an empty
    line, stays a break (the end of a clause for the screen).
    """
    text = re.sub(r"(?<=[^\W\d_])[-\u00ad][ \t]*\n[ \t]*(?=[^\W\d_])", "-", text)
    lines = text.split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        before, after = out[-1].rstrip(), line.lstrip()
        soft = bool(before) and bool(after) and before[-1] not in ".!?:;\u2026"
        out.append((" " if soft and after[0].islower() else "\n") + line)
    return "".join(out)


def _fold_letters(text: str) -> str:
    """Look-alikes to Latin, case folded, accents and other combining marks dropped."""
    text = text.translate(_LOOKALIKE_TABLE).casefold()
    text = unicodedata.normalize("NFD", text)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Mn", "Me"))
    return unicodedata.normalize("NFC", text).translate(_LOOKALIKE_TABLE)


def _unleet(match: re.Match[str]) -> str:
    word = match.group(0)
    return word if _KEEP_DIGITS.fullmatch(word) else word.translate(_LEET)


def _spelled(match: re.Match[str]) -> str:
    """Join spelled letters; a wider gap ("r e p l y  w i t h") still separates words."""
    letters = re.findall(r"[a-z]", match.group(0))
    separators = re.sub(r"[a-z]", "", match.group(0))
    if len(letters) < 3 and not separators.strip():
        return match.group(0)
    words = re.split(r"[^\S\n]{2,}|\n", match.group(0))
    return " ".join("".join(re.findall(r"[a-z]", word)) for word in words)


def _inner(text: str) -> str:
    """Remove a separator inside a word when it hides a known word; else make it a space."""

    def replace(match: re.Match[str]) -> str:
        start = match.start()
        left = re.search(r"[a-z]+$", text[:start])
        right = _WORD_AT.match(text, start + 1)
        joined = (left.group(0) if left else "") + (right.group(0) if right else "")
        return "" if _VOCABULARY.fullmatch(joined) else " "

    return _INNER_PUNCT.sub(replace, text)


def fold_text(text: str) -> str:
    """The plain form the screen matches on.

    Lower-case ASCII letters and digits, single spaces, ``\\n`` where a line ends a clause,
    and the punctuation that structures sentences (``. , ; : ! ? ( )``, en and em dashes,
    and `` - `` between spaces, which becomes an en dash). Look-alike letters are folded to
    Latin, accents dropped, apostrophes and separators inside words removed ("C.V.V." is
    ``cvv``, "pass-word" is ``password``), letters written as digits restored ("p4ssw0rd" is
    ``password``).
    """
    text = _fold_letters(_join_lines(visible_text(text)))
    text = _LEET_WORD.sub(_unleet, text)
    text = _ELISION.sub(r"\1 ", text)
    text = _APOSTROPHE.sub("", text)
    text = _SPELLED.sub(_spelled, text)
    text = _inner(text)
    text = _SPACED_DASH.sub("\u2013", text)
    text = _OTHER.sub(" ", text)
    text = _SPACES.sub(" ", text)
    return _BREAKS.sub("\n", text).strip()


def _spell_digits(match: re.Match[str]) -> str:
    words = _DIGIT_WORD.findall(match.group(0))
    return " ".join(_DIGIT_WORDS[word] for word in words) + " "


def digit_text(text: str) -> str:
    """``text`` for finding numbers: visible, lower case, spelled digit runs as digits."""
    text = visible_text(text).lower()
    return _DIGIT_WORD_RUN.sub(_spell_digits, text)

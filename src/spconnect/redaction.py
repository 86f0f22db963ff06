"""The one filter every output channel goes through: secrets masked, control characters out.

Redaction has two layers: the exact values of secrets this process has handled
(registered as they are read or received), and patterns for the shapes Amazon gives its
secrets (amazon.md section 1), which catch a secret this process never registered, for
instance one pasted into a wrong flag or echoed back in an error body. Both layers also
match the encoded forms in which an error body echoes a request: percent-encoding (single
and double, either hex case), ``+`` for a space, JSON escapes (``\\uXXXX``, ``\\/``) and
HTML character references (issue 8, section 2).

Text shown to a person also loses terminal control sequences, C0/C1 control characters
and bidirectional overrides (issue 8, section 5): an error body or ``error_description``
must not be able to recolour, retitle or rewrite the user's terminal.

Kept free of heavy imports: the CLI's error path uses it before anything else loads.
"""

from __future__ import annotations

import logging
import re

MASK = "[REDACTED]"
# Very short values would mask ordinary words; real secrets are far longer than this.
_MIN_REGISTERED_LENGTH = 6

# -- encoded forms ------------------------------------------------------------------------


def _hex(value: int, digits: int) -> str:
    """A regex for ``value`` in hex with either letter case (``%7c`` and ``%7C``)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in f"{value:0{digits}X}")


def _char_forms(char: str) -> str:
    """A regex matching ``char`` literally or in any encoding an echo might use."""
    # Letters and digits pass through every encoder unchanged (RFC 3986 unreserved, JSON,
    # HTML); matching only their literal form keeps the patterns small and precise.
    if char.isascii() and char.isalnum():
        return char
    utf8 = char.encode()
    forms = [
        re.escape(char),
        "".join("%" + _hex(b, 2) for b in utf8),  # percent-encoded
        "".join("%25" + _hex(b, 2) for b in utf8),  # percent-encoded twice
        r"&#0*" + str(ord(char)) + ";",  # HTML decimal reference
        r"&#[xX]0*" + _hex(ord(char), 1) + ";",  # HTML hex reference
    ]
    if ord(char) < 0x10000:
        forms.append(r"\\u" + _hex(ord(char), 4))  # JSON \uXXXX
    if char in '/"\\':
        forms.append(re.escape("\\" + char))  # JSON \/ \" \\
    if char == " ":
        forms.append(r"\+")  # application/x-www-form-urlencoded
    if char == "|":
        forms += ["&vert;", "&verbar;"]
    return "(?:" + "|".join(forms) + ")"


def _encoded(literal: str) -> str:
    return "".join(_char_forms(c) for c in literal)


# -- secret shapes ------------------------------------------------------------------------

# What may follow a shape's prefix: anything up to a delimiter of the surrounding text
# (space, quote, query or form separator, markup), HTML numeric references included.
_BODY = r"""(?:[^\s"'&<>,;]|&#[xX]?[0-9a-fA-F]{1,6};)+"""
# Shapes from amazon.md section 1: refresh tokens start "Atzr|", access tokens "Atza|",
# client secrets "amzn1.oa2-cs." (today "amzn1.oa2-cs.v1."), each in any encoded form.
# Restricted data tokens start "Atz.sprdt|" (the Tokens API's answers; amazon.md section
# 9): one travels in x-amz-access-token instead of the access token, so an argument of
# that shape is refused as an access token is (spconnect obtains both itself).
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile("Atzr" + _encoded("|") + _BODY), "a refresh token"),
    (re.compile("Atza" + _encoded("|") + _BODY), "an access token"),
    (re.compile("Atz" + _encoded(".sprdt|") + _BODY), "an access token"),
    (re.compile("amzn1" + _encoded(".oa2-cs.") + _BODY), "a client secret"),
)
# The authorization code has no published shape, so it is caught by name when it travels
# as a query parameter (also percent-encoded, inside an echoed redirect URI) or as a JSON
# field, and by value once registered. Group 1 is kept, the value masked.
_EQUALS = r"(?:=|%3[dD]|%253[dD])"
_CODE_PATTERNS = (
    re.compile(
        r"((?:spapi_oauth_code|(?:[?&]|%3[fF]|%26|%253[fF]|%2526)code)" + _EQUALS + r")"
        r"(?:(?!%26|%2526)[^&\s\"'<>])+"
    ),
    re.compile(r"(\"spapi_oauth_code\"\s*:\s*\")[^\"]+"),
)


class _EncodedForms:
    """The pattern of a registered value's encoded forms, compiled the first time a text
    that could hold one is redacted: most values are never printed at all, and the invite
    server registers a code and two tokens per seller, for which compiling at once took
    some 13% of its CPU (benchmarks/invite_load.py). Kept beside the value, so that a
    value forgotten while another thread compiles its pattern stays forgotten."""

    __slots__ = ("_pattern", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._pattern: re.Pattern[str] | None = None

    def sub(self, text: str) -> str:
        if self._pattern is None:
            self._pattern = re.compile(_encoded(self._value))
        return self._pattern.sub(MASK, text)


_registered: dict[str, _EncodedForms] = {}


def register_secret(value: str | None) -> None:
    """Remember a secret value so that it is masked wherever it would be printed."""
    if value and len(value) >= _MIN_REGISTERED_LENGTH and value not in _registered:
        _registered[value] = _EncodedForms(value)


def forget_secret(value: str | None) -> None:
    """Stop masking a value this process no longer holds. A long-running process (the
    invite server, which handles a code and tokens per seller) forgets each seller's
    once done with them, so that neither memory nor ``redact``'s work grows with every
    seller served; the shape patterns below still catch them."""
    if value:
        _registered.pop(value, None)


def redact(text: str) -> str:
    """Mask every registered secret and every secret-shaped substring of ``text``, in
    plain or encoded form."""
    # Longest first, so that a secret containing another is masked whole. A snapshot of
    # the pairs: another thread may register or forget a value meanwhile (the server).
    for value, encoded in sorted(_registered.items(), key=lambda item: len(item[0]), reverse=True):
        if value in text:
            text = text.replace(value, MASK)
        if "%" in text or "\\" in text or "&" in text or "+" in text:
            text = encoded.sub(text)
    for pattern, _kind in _SHAPES:
        text = pattern.sub(MASK, text)
    for pattern in _CODE_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def secret_shape(text: str) -> str | None:
    """What kind of secret ``text`` contains by its shape ("a refresh token", ...), or
    None. Used to refuse secrets given as command-line arguments."""
    for pattern, kind in _SHAPES:
        if pattern.search(text):
            return kind
    return None


# -- control characters -------------------------------------------------------------------

# Whole escape sequences first (CSI such as colours and cursor moves, OSC such as window
# titles and hyperlinks, two-character escapes), so that no "[31m" debris is left behind.
_ESCAPE_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|[\x1b\x9d]\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC
    r"|\x1b[ -/]*[0-~]"  # other escapes
)
# C0 controls but newline and tab, DEL, C1 controls, and the invisible characters that
# reorder or hide text: bidi marks, embeddings, overrides and isolates, zero-width space,
# line and paragraph separators, a stray byte-order mark.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\u061c\u200b\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff]"
)


def strip_controls(text: str, *, multiline: bool = True) -> str:
    """``text`` without escape sequences, control characters or bidi overrides.

    Newlines stay where a message has several lines (``multiline``); otherwise they
    become spaces. A carriage return, which lets text overwrite what came before it on
    the line, goes (``\\r\\n`` becomes a newline); a tab becomes a space.
    """
    text = _ESCAPE_SEQUENCES.sub("", text.replace("\r\n", "\n"))
    text = text.replace("\t", " ")
    if not multiline:
        text = text.replace("\n", " ")
    return _CONTROLS.sub("", text)


def for_display(text: str, *, multiline: bool = True) -> str:
    """Text made safe to show a person: control characters stripped, then secrets masked.

    Stripping comes first so that a control character planted inside a secret cannot
    split it into pieces that no pattern recognises.
    """
    return redact(strip_controls(text, multiline=multiline))


def one_line(text: str, limit: int = 300) -> str:
    """A short single-line excerpt of untrusted text (an error body, a description),
    safe to show and to store."""
    text = " ".join(for_display(text, multiline=False).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RedactingFilter(logging.Filter):
    """Logging filter that makes the fully formatted message of every record safe."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = for_display(message)
        record.args = None
        if record.exc_info:
            # Formatted tracebacks carry exception messages; render and redact them now.
            formatter = logging.Formatter()
            record.exc_text = for_display(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True

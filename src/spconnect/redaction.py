"""The one redaction filter every output channel goes through.

Two layers: the exact values of secrets this process has handled (registered as they are
read or received), and patterns for the shapes Amazon gives its secrets (amazon.md
section 1), which catch a secret this process never registered, for instance one pasted
into a wrong flag or echoed back in an error body.

Kept free of heavy imports: the CLI's error path uses it before anything else loads.
"""

from __future__ import annotations

import logging
import re

# Shapes from amazon.md section 1: refresh tokens start "Atzr|", access tokens "Atza|",
# client secrets "amzn1.oa2-cs.v1.". The authorization code has no published shape, so it
# is caught by name when it travels as a query parameter, and by value once registered.
_SECRET_PATTERNS = (
    re.compile(r"Atz[ar]\|[^\s\"'&<>,;]+"),
    re.compile(r"amzn1\.oa2-cs\.v1\.[^\s\"'&<>,;]+"),
    re.compile(r"(?<=spapi_oauth_code=)[^&\s\"'<>]+"),
    re.compile(r"(?<=[?&]code=)[^&\s\"'<>]+"),
)
MASK = "[REDACTED]"
# Very short values would mask ordinary words; real secrets are far longer than this.
_MIN_REGISTERED_LENGTH = 6

_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret value so that it is masked wherever it would be printed."""
    if value and len(value) >= _MIN_REGISTERED_LENGTH:
        _registered.add(value)


def redact(text: str) -> str:
    """Mask every registered secret and every secret-shaped substring of ``text``."""
    # Longest first, so that a secret containing another is masked whole.
    for value in sorted(_registered, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Logging filter that redacts the fully formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            # Formatted tracebacks carry exception messages; render and redact them now.
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True

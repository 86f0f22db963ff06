"""Profile and app names, and the cleaning of pasted values.

Written without ``re`` because the ``spconnect token`` fast path validates the profile
name before it builds a file path from it.
"""

from __future__ import annotations

# Spelled out: the string module imports re.
_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_REST = _FIRST | frozenset("._-")
MAX_NAME_LENGTH = 64


def is_profile_name(value: str) -> bool:
    """Letters, digits, '.', '_', '-'; starts with a letter or digit; at most 64 chars.

    The rule keeps names safe as file names (no '/', no '..' prefix, no hidden files).
    """
    return (
        0 < len(value) <= MAX_NAME_LENGTH and value[0] in _FIRST and all(c in _REST for c in value)
    )


def is_visible_ascii(value: str) -> bool:
    """Printable ASCII without spaces ("!" to "~"): the alphabet of LWA tokens and client
    secrets (amazon.md section 1) and of the values spconnect sends back to Amazon. A
    value outside it is a paste gone wrong, or one built to break a header or a terminal.
    True for the empty string: callers check emptiness and length themselves."""
    return all("!" <= c <= "~" for c in value)


def clean_pasted(value: str) -> str:
    """Strip whitespace and surrounding quotes, as pasted values often carry."""
    value = value.strip()
    while len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"`":
        value = value[1:-1].strip()
    return value

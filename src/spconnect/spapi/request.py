"""An SP-API request as ``spconnect api`` builds it from its flags, checked before anything
is sent (design, "Command contract": ``api``; the flags follow ``gh api``).

- PATH is a path on the profile's SP-API endpoint, optionally with a query string; never a
  URL, so that the access token cannot be sent to another host.
- ``-f KEY=VALUE`` adds a string, ``-F KEY=VALUE`` a typed value (``true``, ``false``,
  ``null``, integers; ``@FILE`` or ``@-`` reads the value from a file or stdin).
- The method is GET, or POST when a body comes from ``--input``; ``-X`` sets it.
  Fields go to the query string for GET, HEAD and DELETE and with ``--input``; otherwise
  they make a JSON body, where ``a[b]=1`` nests and ``a[]=1`` appends to an array.
- A list parameter repeats its key (issue 10). In the query string the values become the
  one comma-separated parameter Amazon reads (``-f MarketplaceIds=A -f MarketplaceIds=B``
  sends ``MarketplaceIds=A,B``: amazon.md section 9's operations take lists that way); in
  a JSON body they become an array.
  Unlike ``gh api``, fields do not turn a GET into a POST: SP-API reads (getOrders, ...)
  take their parameters in the query string, and those are most calls.
- ``-H 'Name: value'`` adds a header; ``x-amz-access-token`` is spconnect's to set (a
  secret never comes from the command line), framing headers are httpx's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlsplit

from spconnect.errors import UsageError

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
_QUERY_METHODS = ("GET", "HEAD", "DELETE")
# SP-API request bodies are JSON documents of kilobytes (feeds and uploads go to S3 URLs,
# not through the SP-API); anything near this is a mistake, not a request.
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_PATH_LENGTH = 8192
MAX_HEADER_LENGTH = 8192
# Set by spconnect (the token: a secret, never an argument) or by httpx (framing).
_RESERVED_HEADERS = {"x-amz-access-token", "host", "content-length", "transfer-encoding"}
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

ReadSource = Callable[[str, str], bytes]  # (FILE or '-', what it is for) -> bytes


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str  # starts with '/', no query
    query: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def with_query(self, name: str, value: str) -> ApiRequest:
        """The same request with ``name`` set to ``value`` (replacing it if present)."""
        kept = tuple((k, v) for k, v in self.query if k != name)
        return replace(self, query=(*kept, (name, value)))

    def describe(self) -> str:
        return f"{self.method} {self.path}"


def build_request(
    path: str,
    *,
    method: str | None = None,
    raw_fields: Iterable[str] = (),
    typed_fields: Iterable[str] = (),
    body: bytes | None = None,
    headers: Iterable[str] = (),
    read_source: ReadSource,
) -> ApiRequest:
    """Check the flags and build the request; UsageError (exit 2) names what is wrong."""
    clean_path, query = _split_path(path)
    verb = (method or ("POST" if body is not None else "GET")).upper()
    if verb not in METHODS:
        raise UsageError(
            f"-X {method}: not an HTTP method here", f"use one of {', '.join(METHODS)}"
        )
    fields: list[tuple[tuple[str, ...], object]] = [
        (_key(text, "-f"), _value(text)) for text in raw_fields
    ]
    fields += [(_key(text, "-F"), _typed(_value(text), read_source)) for text in typed_fields]
    content_type: list[tuple[str, str]] = []
    if body is not None or verb in _QUERY_METHODS:
        query = _comma_lists((*query, *(_query_field(key, value) for key, value in fields)))
    elif fields:
        body = json.dumps(_nest(fields)).encode()
    if body is not None:
        content_type = [("content-type", "application/json")]
    given = tuple(_header(text) for text in headers)
    if any(name.lower() == "content-type" for name, _ in given):
        content_type = []
    return ApiRequest(verb, clean_path, query, body, (*content_type, *given))


def _split_path(path: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    if len(path) > MAX_PATH_LENGTH:
        raise UsageError(f"PATH is longer than {MAX_PATH_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in path):
        raise UsageError(f"PATH {path!r} contains spaces or control characters")
    if not path.startswith("/") or path.startswith("//"):
        raise UsageError(
            f"PATH {path!r} must be a path on the SP-API endpoint, such as /orders/v0/orders",
            "spconnect sends it to the profile's regional endpoint (or to $SPCONNECT_SPAPI_URL "
            "when set), never to a URL given here",
        )
    parts = urlsplit(path)
    if parts.fragment or "#" in path:
        raise UsageError(f"PATH {path!r} contains a #fragment")
    return parts.path, tuple(parse_qsl(parts.query, keep_blank_values=True))


def _comma_lists(query: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """A repeated parameter as Amazon's one comma-separated list, where it first came."""
    merged: dict[str, str] = {}
    for name, value in query:
        merged[name] = f"{merged[name]},{value}" if name in merged else value
    return tuple(merged.items())


def _value(text: str) -> str:
    return text.partition("=")[2]


def _key(text: str, flag: str) -> tuple[str, ...]:
    """``a[b][]`` -> ("a", "b", ""): the name, then each bracketed part."""
    key, sep, _ = text.partition("=")
    name, _, rest = key.partition("[")
    parts = [name]
    if rest:
        if not rest.endswith("]"):
            raise UsageError(f"{flag} {key!r}: a key is NAME, NAME[KEY]... or NAME[]")
        parts += rest[:-1].split("][")
    if not sep or not name or any("[" in p or "]" in p for p in parts):
        raise UsageError(
            f"{flag} {text!r}: expected KEY=VALUE", "for example -f MarketplaceIds=ATVPDKIKX0DER"
        )
    if "" in parts[:-1]:
        raise UsageError(f"{flag} {key!r}: '[]' may only end a key")
    return tuple(parts)


def _typed(value: str, read_source: ReadSource) -> object:
    """gh's -F conversions: literals and integers become JSON values, @FILE a file's text."""
    if value in ("true", "false"):
        return value == "true"
    if value == "null":
        return None
    if value.lstrip("-").isdigit() and value.lstrip("-").isascii():
        return int(value)
    if value.startswith("@"):
        data = read_source(value[1:], f"-F {value}")
        try:
            return data.decode()
        except UnicodeDecodeError:
            raise UsageError(f"-F {value}: the file is not UTF-8 text") from None
    return value


def _query_field(key: tuple[str, ...], value: object) -> tuple[str, str]:
    if len(key) > 1:
        raise UsageError(
            f"{key[0]}[...]: nested keys make a JSON body, not a query string",
            "SP-API lists in a query string are comma-separated: -f MarketplaceIds=A,B",
        )
    if isinstance(value, bool):
        return key[0], "true" if value else "false"
    return key[0], "" if value is None else str(value)


def _nest(fields: list[tuple[tuple[str, ...], object]]) -> dict[str, object]:
    """The JSON body of the fields: ``a[b]=1`` nests, ``a[]=1`` appends (gh's rules)."""
    document: dict[str, object] = {}
    for key, value in fields:
        where = "".join(key[:1]) + "".join(f"[{p}]" for p in key[1:])
        appends = key[-1] == ""  # '[]' can only end a key (_key)
        node = document
        for part in key[: -2 if appends else -1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UsageError(f"field {where}: {part} is already a value, not an object")
            node = child
        if appends:
            array = node.setdefault(key[-2], [])
            if not isinstance(array, list):
                raise UsageError(f"field {where}: {key[-2]} is already a value, not an array")
            array.append(value)
        elif key[-1] in node:
            # A repeated key is a list (issue 10), as in the query string.
            given = node[key[-1]]
            if isinstance(given, dict):
                raise UsageError(f"field {where}: {key[-1]} is already an object")
            node[key[-1]] = [*given, value] if isinstance(given, list) else [given, value]
        else:
            node[key[-1]] = value
    return document


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not name or not set(name) <= _TOKEN_CHARS:
        raise UsageError(f"-H {text!r}: expected 'Name: value'")
    if len(text) > MAX_HEADER_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise UsageError(f"-H {name}: the value is too long or contains control characters")
    if name.lower() in _RESERVED_HEADERS:
        hint = (
            "spconnect sends the profile's access token; use --rdt for a restricted data token"
            if name.lower() == "x-amz-access-token"
            else "httpx sets it from the request"
        )
        raise UsageError(f"-H {name}: this header is not yours to set", hint)
    return name, value

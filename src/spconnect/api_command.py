"""What ``spconnect api`` does once its flags are read, without Typer: the one
implementation behind both routes to it, the fast route in entry.py (flags parsed by
hand, no Typer, Click, Rich or pydantic: issue 10's speed target) and the Typer command
in cli/api_cmd.py (--help, -v, and anything the fast route leaves to the CLI's parser).

The flags become an ApiRequest (spapi/request.py), spapi/caller.py sends it, paced and
retried, and this module prints the answers. A JSON body is pretty-printed when stdout is
a terminal and compact when it is not (a pipe, a file), as ``gh api`` does; with
``--paginate`` each page is printed as it arrives (compact: one page per line, JSON
Lines), with ``--slurp`` one array of the pages at the end. A body that is not JSON is
printed as received (on a terminal, without its control characters). An error status
prints Amazon's body on stdout and its summary on stderr (exit 9). On a terminal, stderr
also tells of each wait for a 429 (spapi/caller.py: the waits and their bound).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from spconnect import access
from spconnect.errors import AmazonUnavailable, ApiErrorStatus, UsageError
from spconnect.redaction import register_secret, strip_controls
from spconnect.report import say
from spconnect.spapi.answers import Answer
from spconnect.spapi.caller import Caller, status_error
from spconnect.spapi.request import MAX_BODY_BYTES, build_request

# --slurp holds every page in memory to print one array; past this, stream them instead.
MAX_SLURP_BYTES = 256 * 1024 * 1024
MAX_DATA_ELEMENTS = 20
# Long enough that a paced request never sends a token about to expire.
TOKEN_MIN_TTL = 60


@dataclass(frozen=True)
class ApiOptions:
    """The flags of one ``spconnect api`` call, as the user gave them."""

    path: str
    profile: str  # resolved: -p, else $SPCONNECT_PROFILE, else the switched default
    method: str | None = None
    raw_fields: tuple[str, ...] = ()
    typed_fields: tuple[str, ...] = ()
    input_file: str | None = None
    headers: tuple[str, ...] = ()
    paginate: bool = False
    slurp: bool = False
    rdt: str | None = None
    include: bool = False


def run(options: ApiOptions) -> None:
    """Check the flags, call the SP-API, print its answers; raise errors.py's errors."""
    if options.slurp and not options.paginate:
        raise UsageError("--slurp needs --paginate")
    if options.slurp and options.include:
        raise UsageError("--include cannot be combined with --slurp")
    sources = _Sources()
    request = build_request(
        options.path,
        method=options.method,
        raw_fields=options.raw_fields,
        typed_fields=options.typed_fields,
        body=(
            sources.read(options.input_file, "--input") if options.input_file is not None else None
        ),
        headers=options.headers,
        read_source=sources.read,
    )
    elements = _data_elements(options.rdt) if options.rdt is not None else None
    # Exit 3, 4, 5 before anything is sent.
    token = access.access_token(options.profile, min_ttl=TOKEN_MIN_TTL)
    register_secret(token.access_token)

    def current_token() -> str:
        return access.get_access_token(token.profile, min_ttl=TOKEN_MIN_TTL)

    def renewed_token() -> str:
        # Amazon refused the token: one forced refresh, whose failure says why (exit 4/5).
        return access.get_access_token(token.profile, min_ttl=TOKEN_MIN_TTL, force_refresh=True)

    pretty = _is_terminal(sys.stdout)
    notify: Callable[[str], None] | None = say if _is_terminal(sys.stderr) else None
    try:
        with Caller(
            current_token, token.endpoint, renew_token=renewed_token, notify=notify
        ) as caller:
            if options.paginate:
                answers: Iterable[Answer] = caller.pages(request, data_elements=elements)
            else:
                answers = [caller.send(request, data_elements=elements)]
            checked = (_checked(answer, request.describe()) for answer in answers)
            if options.slurp:
                _print_slurped(checked, pretty=pretty)
            else:
                for answer in checked:
                    if options.include:
                        _write(answer.head().encode("latin-1"))
                    _write(rendered(answer.body, answer.document, pretty=pretty))
    except ApiErrorStatus as error:
        # Exit 9: the answer is data too (design, "Exit codes"); the summary goes to stderr.
        if options.include and error.head:
            _write(error.head.encode("latin-1"))
        if error.body:
            _write(rendered(error.body, _json_or_none(error.body), pretty=pretty))
        raise


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


def _checked(answer: Answer, what: str) -> Answer:
    if not answer.ok:
        raise status_error(answer, what)
    return answer


def _json_or_none(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        return None


def rendered(body: bytes, document: object, *, pretty: bool) -> bytes:
    """A body for stdout: JSON pretty-printed for a terminal, compact (one line) for a
    pipe or a file; anything else as received, for a terminal without control characters.

    Re-encoding JSON normalises its numbers as any JSON tool does (1.50 becomes 1.5); a
    number JSON cannot carry back (1e999) keeps the body as received.
    """
    text: str | None = None
    if document is not None:
        try:
            if pretty:
                text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
            else:
                text = json.dumps(
                    document, separators=(",", ":"), ensure_ascii=False, allow_nan=False
                )
        except ValueError:
            text = None
    if text is None:
        if not pretty:
            return body if not body or body.endswith(b"\n") else body + b"\n"
        text = body.decode("utf-8", errors="replace").rstrip("\n")
    if pretty:
        # JSON escapes C0 controls itself; C1 controls and bidi overrides in a string
        # would still reach the terminal (issue 8, section 5).
        text = strip_controls(text)
    return text.encode() + b"\n"


def _print_slurped(answers: Iterable[Answer], *, pretty: bool) -> None:
    pages: list[object] = []
    total = 0
    for answer in answers:
        total += len(answer.body)
        if total > MAX_SLURP_BYTES:
            raise UsageError(
                f"the pages exceed {MAX_SLURP_BYTES // 1048576} MiB together",
                "drop --slurp: --paginate prints each page on its own line as it arrives",
            )
        document = answer.document
        if document is None:
            raise AmazonUnavailable(
                f"page {len(pages) + 1} is not JSON (request id {answer.request_id})",
                "drop --slurp to see the pages as they are",
            )
        pages.append(document)
    _write(rendered(json.dumps(pages).encode(), pages, pretty=pretty))


def _data_elements(text: str) -> list[str]:
    elements = [e.strip() for e in text.split(",") if e.strip()]
    if len(elements) > MAX_DATA_ELEMENTS or not all(
        e.isascii() and e.isalnum() and len(e) <= 64 for e in elements
    ):
        raise UsageError(
            f"--rdt {text!r}: expected data element names separated by commas",
            "for example --rdt buyerInfo,shippingAddress (the operation's reference lists them)",
        )
    return elements


class _Sources:
    """Files and stdin named by --input and -F @FILE, read within MAX_BODY_BYTES."""

    def __init__(self) -> None:
        self._stdin_read_by: str | None = None

    def read(self, name: str, what: str) -> bytes:
        if name == "-":
            if self._stdin_read_by is not None:
                raise UsageError(f"{what}: stdin is already read by {self._stdin_read_by}")
            self._stdin_read_by = what
            data = sys.stdin.buffer.read(MAX_BODY_BYTES + 1)
        else:
            try:
                with open(name, "rb") as file:
                    data = file.read(MAX_BODY_BYTES + 1)
            except OSError as exc:
                raise UsageError(f"{what}: cannot read {name}: {exc.strerror or exc}") from None
        if len(data) > MAX_BODY_BYTES:
            raise UsageError(f"{what}: more than {MAX_BODY_BYTES // 1048576} MiB")
        return data


def _write(data: bytes) -> None:
    """Data for scripts, as bytes: Amazon's answers are not re-encoded."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()

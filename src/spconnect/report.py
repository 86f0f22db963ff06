"""How a failure reaches the person: the one renderer for errors, used by the Typer CLI
and by the token path in entry.py, which must not import the CLI (issue 7: errors render
exactly alike on both)."""

from __future__ import annotations

import sys
import traceback

from spconnect.errors import ExitCode, SpconnectError
from spconnect.redaction import for_display


def report_error(error: SpconnectError) -> int:
    """Print ``error: message`` and its hint on stderr, redacted and stripped of terminal
    controls (redaction.for_display); return its exit code."""
    sys.stderr.write(for_display(f"error: {error.message}") + "\n")
    if error.hint:
        sys.stderr.write(for_display(error.hint) + "\n")
    return error.exit_code


def report_unexpected(error: BaseException, *, verbose: bool) -> int:
    """A bug: a short, redacted line (the trace only with -v, redacted too); exit 1."""
    if verbose:
        sys.stderr.write(for_display("".join(traceback.format_exception(error))))
    sys.stderr.write(
        for_display(f"spconnect: unexpected error: {type(error).__name__}: {error}") + "\n"
    )
    if not verbose:
        sys.stderr.write("run again with -v for details, and please report it\n")
    return ExitCode.UNEXPECTED

"""How a failure reaches the person: the one renderer for errors, used by the Typer CLI
and by the fast paths in entry.py, which must not import the CLI (issue 7: errors render
exactly alike on both); and the other words for the person on stderr.
"""

from __future__ import annotations

import os
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


def say(message: str) -> None:
    """A message for the person (stderr), through the display filter like every other
    output: secrets masked, control characters stripped (multi-line messages keep their
    newlines)."""
    sys.stderr.write(for_display(message) + "\n")
    sys.stderr.flush()


def silence_stdout() -> None:
    """The reader of our stdout went away (`spconnect status | head`): point stdout at
    /dev/null so that the interpreter's final flush does not fail again (the recipe of
    Python's signal documentation, "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


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

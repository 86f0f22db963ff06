"""The Typer application and the one place where errors become messages and exit codes."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from spconnect._version import __version__
from spconnect.errors import ExitCode, SpconnectError
from spconnect.report import report_error, report_unexpected

app = typer.Typer(
    name="spconnect",
    help="Connect Amazon seller and vendor accounts to your software through SP-API.",
    no_args_is_help=True,
    add_completion=False,
    # Rich tracebacks print local variables, which can hold secrets; errors are rendered
    # by run() below instead.
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"spconnect {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Connect Amazon seller and vendor accounts to your software through SP-API."""


def _register_commands() -> None:
    from spconnect.cli import api_cmd, app_cmd, demo_cmd, exec_cmd, login_cmd, status_cmd, token_cmd

    app.add_typer(app_cmd.app, name="app")
    login_cmd.register(app)
    token_cmd.register(app)
    status_cmd.register(app)
    api_cmd.register(app)
    exec_cmd.register(app)
    app.command("demo")(demo_cmd.demo)


_register_commands()


def run(args: list[str]) -> int:
    """Run the CLI on ``args``; returns the exit status (never raises)."""
    verbose = any(a in ("-v", "--verbose") for a in args)
    try:
        # Standalone mode: Typer prints usage errors itself (exit 2, as in the design) and
        # turns Ctrl-C into exit 130; everything ends in SystemExit with the status.
        app(args=args, prog_name="spconnect", standalone_mode=True)
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else ExitCode.UNEXPECTED)
    except SpconnectError as error:
        return report_error(error)
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return ExitCode.INTERRUPTED
    except Exception as error:
        return report_unexpected(error, verbose=verbose)
    return ExitCode.OK

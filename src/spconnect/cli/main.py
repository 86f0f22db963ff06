"""The Typer application and the one place where errors become messages and exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Annotated

import typer

from spconnect._version import __version__
from spconnect.cli.common import PROFILE_BEFORE_COMMAND, profile_names, setup_verbose
from spconnect.cli.completion_cmd import COMPLETE_VAR
from spconnect.errors import ExitCode, SpconnectError
from spconnect.redaction import for_display, secret_shape
from spconnect.report import report_error, report_unexpected, silence_stdout

_app = typer.Typer(
    name="spconnect",  # its help is _root's docstring, below
    no_args_is_help=True,
    # Completion scripts come from `spconnect completion SHELL` (cli/completion_cmd.py),
    # as gh does, rather than Typer's --install-completion, which edits rc files.
    add_completion=False,
    # Plain Click help, as git and gh print it: Rich's panels label every flag <bool>
    # and re-flow the Examples sections.
    rich_markup_mode=None,
    # Rich tracebacks print local variables, which can hold secrets; errors are rendered
    # by run() below instead.
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"spconnect {__version__}\n")
        raise typer.Exit()


def _takes_profile(command: object) -> bool:
    """Whether ``command``, or a command of the group it is, has a --profile option."""
    params = getattr(command, "params", [])
    if any(getattr(p, "name", None) == "profile" for p in params):
        return True
    return any(_takes_profile(sub) for sub in getattr(command, "commands", {}).values())


@_app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            metavar="NAME",
            autocompletion=profile_names,
            help="The profile for the command (as its own -p).",
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="More detail on stderr, HTTP requests traced (as its own -v)."
        ),
    ] = False,
) -> None:
    """Connect Amazon seller and vendor accounts to your software through SP-API.

    Examples:

    \b
        spconnect login                    # authorize an account in the browser
        spconnect token                    # a valid access token, in milliseconds
        spconnect -p prod status --check   # is profile 'prod' healthy?
        spconnect switch prod              # make 'prod' the default profile
        spconnect demo                     # all of it against the built-in emulator
    """
    setup_verbose(verbose)
    if profile is not None:
        name = ctx.invoked_subcommand
        command = getattr(ctx.command, "commands", {}).get(name)
        if command is not None and not _takes_profile(command):
            raise typer.BadParameter(
                f"`spconnect {name}` takes no profile", ctx=ctx, param_hint="'-p' / '--profile'"
            )
        ctx.meta[PROFILE_BEFORE_COMMAND] = profile


# Each command's module (spconnect.cli.<module>) and the commands it registers, in the
# order the help lists them. A call imports only the module of its command: together they
# cost more than most commands' work (issue 10). The root's help, shell completion, a
# command that does not exist and ``from spconnect.cli.main import app`` get every one.
_MODULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("app_cmd", ("app",)),
    ("login_cmd", ("login", "reauth", "logout", "relay-page")),
    ("token_cmd", ("token",)),
    ("status_cmd", ("status", "doctor")),
    ("api_cmd", ("api",)),
    ("exec_cmd", ("exec",)),
    ("switch_cmd", ("switch",)),
    ("demo_cmd", ("demo",)),
    ("completion_cmd", ("completion",)),
    ("serve_cmd", ("serve",)),
    ("server_cmd", ("server",)),
    ("invite_cmd", ("invite",)),
)
_registered: list[str] = []
_ROOT_VALUE_OPTIONS = ("-p", "--profile")


def _register(modules: Iterable[str]) -> None:
    for name in modules:
        if name not in _registered:
            # __import__ rather than importlib: -X importtime sees it (tests/test_fast_path).
            __import__(f"spconnect.cli.{name}", fromlist=["register"]).register(_app)
            _registered.append(name)


def _register_all() -> None:
    _register(module for module, _ in _MODULES)


def _command_name(args: list[str]) -> str | None:
    """The command ``args`` call, past the root's options; None when there is none."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in _ROOT_VALUE_OPTIONS else 1
    return args[i] if i < len(args) else None


def _register_for(args: list[str]) -> None:
    """Register what a call of ``args`` needs: its command's module, else everything."""
    name = _command_name(args)
    module = next((m for m, names in _MODULES if name in names), None)
    if module is None or os.environ.get(COMPLETE_VAR):
        _register_all()
    else:
        _register([module])


def __getattr__(name: str) -> typer.Typer:
    """``app``: the whole CLI, every command registered (for tests and tools)."""
    if name == "app":
        _register_all()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _report_usage(error: typer.TyperException) -> int:
    """A usage error found by Typer/Click (bad flag, bad value), shown as Click would but
    through the display filter: Click echoes the offending value, which may be anything
    the user typed, control characters included."""
    ctx = getattr(error, "ctx", None)
    if type(error).__name__ == "NoArgsIsHelpError" and ctx is not None:
        # `spconnect` or `spconnect app` alone: the help, on stdout as --help prints it
        # (Click would print it on stderr), with the usage error's exit code.
        sys.stdout.write(ctx.get_help() + "\n")
        return ExitCode.USAGE
    message = error.format_message()
    lines = []
    if ctx is not None:
        lines.append(ctx.get_usage())
        if ctx.command.get_help_option(ctx) is not None:
            lines.append(f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help.")
        lines.append("")
    lines.append(f"error: {message}")
    hint = _usage_hint(ctx)
    if hint:
        lines.append(hint)
    sys.stderr.write(for_display("\n".join(lines)) + "\n")
    return int(getattr(error, "exit_code", ExitCode.USAGE))


_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})


def _usage_hint(ctx: object) -> str | None:
    """What a user of a similar tool most likely meant: `spconnect api GET /path`, as
    some HTTP clients take it, where spconnect (like `gh api`) takes the method in -X."""
    params = getattr(ctx, "params", None) or {}
    command = getattr(getattr(ctx, "command", None), "name", None)
    method = str(params.get("path") or "")
    if command == "api" and method.upper() in _HTTP_METHODS:
        return f"the method goes in -X: spconnect api -X {method.upper()} PATH ..."
    return None


# Where a secret of each shape may be given instead of argv (design, "Command contract").
_STDIN_ALTERNATIVES = {
    "a client secret": "pipe it in with --client-secret-stdin (`app add`, `app set-secret`), "
    "or leave it out to be asked for it without echo",
    "a refresh token": "pipe it in with `spconnect login --refresh-token-stdin`, "
    "or leave it out to be asked for it without echo",
    "an access token": "spconnect never takes an access token: it fetches one itself "
    "(`spconnect token`); to store an authorization, pipe its refresh token in with "
    "`spconnect login --refresh-token-stdin`",
}


def _refuse_secret_arguments(args: list[str]) -> int | None:
    """Exit 2 when an argument has the shape of a secret (amazon.md section 1).

    The design accepts secrets only from stdin, a hidden prompt or the environment: on the
    command line they show in `ps` and stay in shell history. Checked before parsing, so
    that no parser error message can echo the value; the message names where the value
    was, never the value.
    """
    for position, arg in enumerate(args):
        kind = secret_shape(arg)
        if kind is None:
            continue
        if arg.startswith("--") and "=" in arg:
            where = f"the value of {arg.split('=', 1)[0]}"
        elif position > 0 and args[position - 1].startswith("-"):
            where = f"the value of {args[position - 1]}"
        else:
            where = f"argument {position + 1}"
        sys.stderr.write(
            for_display(
                f"error: {where} looks like {kind}; secrets are never taken as command-line "
                "arguments, where `ps` and your shell history would keep them "
                "(if it is real, remove it from your shell history)"
            )
            + "\n"
            + for_display(_STDIN_ALTERNATIVES[kind])
            + "\n"
        )
        return ExitCode.USAGE
    return None


def run(args: list[str]) -> int:
    """Run the CLI on ``args``; returns the exit status (never raises)."""
    from spconnect.amazon import trace

    # -v anywhere, or SPCONNECT_DEBUG=1: a bug's report includes its (redacted) trace.
    verbose = any(a in ("-v", "--verbose") for a in args) or trace.requested_by_environment()
    refused = _refuse_secret_arguments(args)
    if refused is not None:
        return refused
    try:
        # Not standalone: Typer would print usage errors itself, unfiltered, and wrap them
        # in a panel that splits long values across lines (beyond any redaction pattern).
        # Here they come back as exceptions and are shown by _report_usage. Typer still
        # maps Ctrl-C to exit 130 and returns typer.Exit's code.
        if os.environ.get(COMPLETE_VAR):
            # A shell's completion script asking (cli/completion_cmd.py): Typer answers,
            # with its completion classes registered here, only when needed.
            from typer._completion_classes import completion_init

            completion_init()
        _register_for(args)
        result = _app(args=args, prog_name="spconnect", standalone_mode=False)
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else ExitCode.UNEXPECTED)
    except typer.Abort:
        sys.stderr.write("Aborted.\n")
        return ExitCode.UNEXPECTED
    except typer.TyperException as error:  # Click's usage errors derive from it
        return _report_usage(error)
    except SpconnectError as error:
        return report_error(error)
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        silence_stdout()
        return ExitCode.UNEXPECTED
    except Exception as error:
        return report_unexpected(error, verbose=verbose)
    # typer.Exit(code) comes back as its code; a command that returns normally, as None.
    if isinstance(result, int) and not isinstance(result, bool):
        return result
    return ExitCode.OK

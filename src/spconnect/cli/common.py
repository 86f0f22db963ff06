"""What every command shares: the -p/-v options, stderr messages, reading secrets."""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperArgument, TyperCommand, TyperOption

from spconnect.errors import UsageError
from spconnect.names import clean_pasted, is_profile_name
from spconnect.redaction import for_display, register_secret
from spconnect.report import say as say  # where every command finds it
from spconnect.store import default_profile

# Where the root callback (cli/main.py) leaves a -p given before the command, for the
# command's own --profile to pick up: Click shares ``ctx.meta`` along the context chain.
PROFILE_BEFORE_COMMAND = "spconnect.profile_before_command"


def configured_names(section: str, incomplete: str) -> list[str]:
    """Names in a section of the config ("profiles", "apps", "servers") starting with
    ``incomplete`` (shell completion)."""
    try:
        from spconnect.store.config import load_config

        names = getattr(load_config(), section)
    except Exception:  # a broken config completes nothing; the command will explain
        return []
    return sorted(name for name in names if name.startswith(incomplete))


def profile_names(incomplete: str = "") -> list[str]:
    """Configured profile names starting with ``incomplete`` (shell completion)."""
    return configured_names("profiles", incomplete)


# Named without Click's "(env var: ...)": the value may have come from -p before the command.
_PROFILE_HINT = "'-p' / '--profile'"


def _profile_in_effect(ctx: typer.Context, param: typer.CallbackParam, value: str) -> str:
    """The profile a command uses: ``-p`` after or before the command, else
    ``$SPCONNECT_PROFILE``, else the default ``spconnect switch`` set, else ``default``
    (store/default_profile.py: the same rule the token fast path follows)."""
    if ctx.resilient_parsing:  # shell completion: nothing is run
        return value
    source = ctx.get_parameter_source(param.name or "profile")
    after = value if source is not None and source.name == "COMMANDLINE" else None
    before = ctx.meta.get(PROFILE_BEFORE_COMMAND)
    if after is not None and before is not None and after != before:
        raise typer.BadParameter(
            f"two profiles were given: {before!r} before the command and {after!r} after it",
            param_hint=_PROFILE_HINT,
        )
    try:
        name = default_profile.resolve(after or before)[0]
    except default_profile.MalformedDefault as error:
        raise UsageError(
            f"{error}, so there is no default profile",
            "set it again with `spconnect switch NAME`, or remove the file",
        ) from None
    if not is_profile_name(name):
        raise typer.BadParameter(
            f"{name!r} is not a profile name (letters, digits, '.', '_', '-'; "
            "starting with a letter or digit; at most 64 characters)",
            param_hint=_PROFILE_HINT,
        )
    return name


ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile",
        "-p",
        envvar=default_profile.ENVIRONMENT_VARIABLE,
        metavar="NAME",
        show_default=False,
        callback=_profile_in_effect,
        autocompletion=profile_names,
        help="The profile to use (default: $SPCONNECT_PROFILE, else the one set with "
        "`spconnect switch`, else 'default'). Also accepted before the command.",
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="Same as --yes: replace a profile of another account or region."),
]
InsecureStorageOpt = Annotated[
    bool,
    typer.Option("--insecure-storage", help="Keep secrets in a 0600 file, not the keyring."),
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="More detail on stderr, every HTTP request traced (secrets redacted; "
        "SPCONNECT_DEBUG=1 does the same). Also accepted before the command.",
    ),
]


def setup_verbose(verbose: bool) -> None:
    """With -v or SPCONNECT_DEBUG=1: spconnect's log records, HTTP traces included, on
    stderr through the redaction filter (amazon/trace.py)."""
    from spconnect.amazon import trace

    if verbose or trace.requested_by_environment():
        trace.show_on_stderr()


Choice = TypeVar("Choice", bound=enum.Enum)


def choices(kind: type[Choice]) -> Callable[[object], Choice]:
    """A parser for an option with fixed values (``parser=choices(Format)``), whose error
    names them plainly: "'yaml' is not one of raw, header, json, env" (Typer's own check
    words it as a pydantic validation error). Case-insensitive."""
    names = ", ".join(str(member.value) for member in kind)

    def parse(value: object) -> Choice:
        if isinstance(value, kind):  # the default
            return value
        for member in kind:
            if str(member.value) == str(value).strip().lower():
                return member
        raise typer.BadParameter(f"{str(value)!r} is not one of {names}")

    return parse


def shown(text: object) -> str:
    """One value of a table or line, safe to show (secrets masked, no controls)."""
    return for_display(str(text), multiline=False)


def safe_document(value: object) -> object:
    """A --json document with every string made safe: scripts show these to people."""
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, dict):
        return {key: safe_document(item) for key, item in value.items()}
    if isinstance(value, list):
        return [safe_document(item) for item in value]
    return value


def rich_output() -> bool:
    """Tables for a person (a terminal, colours allowed), plain lines for a pipe."""
    import os

    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def out(text: str) -> None:
    """Data for scripts (stdout)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


# Far above any secret spconnect takes (LWA values are at most 2048 bytes, amazon.md
# section 1), far below what would hurt: stdin is bounded like every outside input.
MAX_SECRET_INPUT = 64 * 1024


def read_secret(*, from_stdin: bool, what: str, flag: str) -> str:
    """A secret from stdin (``--*-stdin``) or a hidden prompt; never from argv."""
    if from_stdin:
        raw = sys.stdin.read(MAX_SECRET_INPUT + 1)
        if len(raw) > MAX_SECRET_INPUT:
            raise UsageError(
                f"the {what} on stdin is longer than {MAX_SECRET_INPUT // 1024} KiB",
                f"pipe in the {what} alone with {flag}",
            )
        value = clean_pasted(raw)
    elif stdin_is_terminal():
        import getpass

        value = clean_pasted(getpass.getpass(f"{what} (input hidden): "))
    else:
        raise UsageError(
            f"no {what} was given and there is no terminal to ask on",
            f"pipe it in with {flag}",
        )
    if not value:
        raise UsageError(f"the {what} is empty", f"pipe it in with {flag} or type it at the prompt")
    register_secret(value)
    return value


class PlainHelpCommand(TyperCommand):
    """Help without Typer's type labels where a name says it already: no `<bool>` on
    flags, which take no value (issue 9, item 14), and no `<str>` after an argument's
    own metavar (`PATH`, `COMMAND [ARGS]...`)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        for param in self.get_params(ctx):
            if isinstance(param, TyperOption) and param.is_flag:
                param.metavar = ""
            elif isinstance(param, TyperArgument) and param.metavar:
                param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
        super().format_help(ctx, formatter)

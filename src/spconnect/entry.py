"""Console entry point.

``spconnect token`` is called in loops by shell scripts, often fifty at a time, so it is
answered here without the Typer CLI (design, "Speed"; issue 7):

1. A fresh cache entry is printed straight from the cache file, before Typer, Rich, httpx,
   keyring or pydantic are imported (about a second of imports together).
2. A stale or missing one: take the profile's refresh lock (standard library only) and
   read the cache again, since another process may have refreshed while this one waited;
   most of a herd of parallel callers ends here, never having opened the keyring.
3. Only the lock holder loads the refresh path (tokens.py: config, secret store, LWA over
   httpx; still no Typer, Rich, questionary or pydantic), refreshes, and prints.

The profile follows the CLI's rule (store/default_profile.py): ``-p`` before or after
``token``, else ``$SPCONNECT_PROFILE``, else the default ``spconnect switch`` set, read
from its one-line file. Errors on that path render exactly as the CLI renders them
(report.py). Anything the fast path does not know (another command, -v, --help, an
unknown or malformed flag) goes to the full CLI, which does the same job the slow way and
explains usage errors.

``spconnect exec -- COMMAND`` takes the same road to its token (a fresh cache entry, else
spconnect.access: one refresh under the profile's lock) and then becomes COMMAND
(child_process.py), so a loop of ``exec`` calls pays little more than a loop of
``token`` calls.

``spconnect api`` (issue 10: at most 12 times ``python -c pass`` on a cached token) has
its flags read here as Click would read them, and runs api_command.py, the same code the
Typer command runs, with httpx but without Typer, Click, Rich or pydantic, which together
cost more than the call. -v, --help, an unknown or malformed flag, a missing PATH, or a
profile name the CLI would refuse go to the CLI before anything is read or sent, so its
messages stay the only ones. Every path here renders errors as the CLI does (report.py).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False


class _WithoutHttpxCommandLine:
    """httpx imports its optional command line (click, rich, pygments: about 60 ms, which
    would double a token refresh's imports) whenever click is installed, as uvicorn, which
    the `serve` extra brings, installs it. spconnect never runs that command line: this
    finder makes httpx's `from ._main import main` fail, so that httpx falls back to its
    own stub, and then steps aside. It touches no other import, and leaves nothing in
    sys.modules. Installed by the console entry point only: a program that imports
    spconnect as a library keeps its httpx whole."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if name == "httpx._main":
            sys.meta_path.remove(_WithoutHttpxCommandLine)
            raise ModuleNotFoundError("spconnect leaves httpx's command line out", name=name)


if "httpx" not in sys.modules:
    sys.meta_path.insert(0, _WithoutHttpxCommandLine)

if TYPE_CHECKING:  # not imported at run time: collections.abc costs the token path
    from collections.abc import Callable

_VALUE_FLAGS = {
    "-p": "profile",
    "--profile": "profile",
    "--format": "format",
    "--min-ttl": "min_ttl",
    "--grantless": "grantless",
}
_SWITCHES = {"--force-refresh": "force_refresh"}
_GRANTLESS_SCOPES = ("notifications", "rotation")  # as cli/token_cmd.py and amazon/lwa.py


_EXEC_VALUE_FLAGS = {
    "-p": "profile",
    "--profile": "profile",
    "--min-ttl": "min_ttl",
    "--grantless": "grantless",
}


def _parse_token_args(args: list[str]) -> dict[str, str] | None:
    """Parse ``token`` flags this path can serve; None means "let the CLI decide"."""
    return _parse_flags(args, _VALUE_FLAGS, _SWITCHES)


def _parse_flags(
    args: list[str], value_flags: dict[str, str], switches: dict[str, str]
) -> dict[str, str] | None:
    """Flags only, each one's last value (as Click keeps it); None for anything else."""
    parsed = _parse_command_line(args, value_flags, switches)
    if parsed is None or parsed[1]:
        return None
    return {name: values[-1] for name, values in parsed[0].items()}


def _parse_command_line(
    args: list[str], value_flags: dict[str, str], switches: dict[str, str]
) -> tuple[dict[str, list[str]], list[str]] | None:
    """The values of each flag in order, and the other arguments, read as Click reads
    them (``--name VALUE``, ``--name=VALUE``, ``-n VALUE``, ``-nVALUE``, switches, ``--``
    ending the flags, flags among the arguments); None for anything this path leaves to
    the CLI: -v, --help, an unknown flag, short flags run together, a switch given a value,
    a missing value, or a value that looks like a flag (Click would take it as the value,
    but a mistake is likelier, and the CLI's message explains it)."""
    options: dict[str, list[str]] = {}
    arguments: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            arguments += args[i:]
            break
        if arg in switches:
            options.setdefault(switches[arg], []).append("1")
            continue
        if not arg.startswith("-") or arg == "-":
            arguments.append(arg)
            continue
        if arg.startswith("--"):
            name, sep, inline = arg.partition("=")
            value = inline if sep else None
        else:
            name, value = arg[:2], arg[2:] or None
        if name not in value_flags:
            return None
        if value is None:
            if i == len(args) or (args[i].startswith("-") and args[i] != "-"):
                return None
            value = args[i]
            i += 1
        options.setdefault(value_flags[name], []).append(value)
    return options, arguments


def _print_token(
    fmt: str,
    *,
    access_token: str,
    expires_at: float,
    profile: str,
    region: str,
    endpoint: str,
    selling_partner_id: object,
) -> None:
    from spconnect.token_output import render

    text = render(
        fmt,
        access_token=access_token,
        expires_at=expires_at,
        profile=profile,
        region=region,
        endpoint=endpoint,
        selling_partner_id=selling_partner_id if isinstance(selling_partner_id, str) else None,
    )
    sys.stdout.write(text)
    sys.stdout.flush()


def _print_entry(fmt: str, profile: str, entry: dict[str, object]) -> None:
    from spconnect.amazon.endpoints import spapi_endpoint

    region = str(entry["region"])
    _print_token(
        fmt,
        access_token=str(entry["access_token"]),
        expires_at=float(entry["expires_at"]),  # type: ignore[arg-type]
        profile=profile,
        region=region,
        endpoint=spapi_endpoint(region, bool(entry.get("sandbox"))),
        selling_partner_id=entry.get("selling_partner_id"),
    )


class _Request:
    """A ``token`` call this path can serve, with its flags checked."""

    def __init__(self, options: dict[str, str]) -> None:
        from spconnect.store import default_profile

        # -p, else $SPCONNECT_PROFILE, else `spconnect switch`'s file, else 'default':
        # the CLI's rule (cli/common.py), from the same module.
        self.profile = default_profile.resolve(options.get("profile"))[0]
        self.format = options.get("format", "raw")
        self.min_ttl = float(options.get("min_ttl", "0"))  # ValueError: the CLI explains
        self.grantless = options.get("grantless")
        self.force_refresh = "force_refresh" in options

    def valid(self) -> bool:
        from spconnect.names import is_profile_name
        from spconnect.token_output import FORMATS

        return (
            self.format in FORMATS
            and is_profile_name(self.profile)
            and 0 <= self.min_ttl < 86400
            and (self.grantless is None or self.grantless in _GRANTLESS_SCOPES)
        )


def _serve_cached_token(request: _Request) -> bool:
    """Print a fresh cached token and return True, or return False."""
    from spconnect.store import cache

    if request.grantless is not None or request.force_refresh:
        return False
    entry = cache.fresh_entry(request.profile, request.min_ttl)
    if entry is None:
        return False
    _print_entry(request.format, request.profile, entry)
    return True


def _obtain_and_print(request: _Request) -> None:
    from spconnect import tokens
    from spconnect.token_output import render_token
    from spconnect.workspace import Workspace

    token = tokens.obtain(
        Workspace(zero_config=True),
        request.profile,
        grantless=request.grantless,
        min_ttl=request.min_ttl,
        force_refresh=request.force_refresh,
    )
    sys.stdout.write(render_token(request.format, token))
    sys.stdout.flush()


def _reported(work: Callable[[], int | None]) -> int:
    """Run ``work`` (None: exit 0) with its failures rendered as the CLI renders them
    (report.py, cli/main.py's run): SPCONNECT_DEBUG=1 traces its HTTP requests."""
    from spconnect.errors import ExitCode, SpconnectError

    verbose = False
    if os.environ.get("SPCONNECT_DEBUG"):  # else not even trace.py (logging, re) is loaded
        from spconnect.amazon import trace

        verbose = trace.requested_by_environment()
        if verbose:
            trace.show_on_stderr()
    try:
        status = work()
    except SpconnectError as error:
        from spconnect.report import report_error

        return report_error(error)
    except BrokenPipeError:
        from spconnect.report import silence_stdout

        silence_stdout()
        return ExitCode.UNEXPECTED  # as the CLI answers a reader that went away
    except Exception as error:
        from spconnect.report import report_unexpected

        return report_unexpected(error, verbose=verbose)
    return 0 if status is None else status


def _refresh_token_path(request: _Request) -> int | None:
    """Steps 2 and 3 of the module docstring, under _reported."""
    if request.grantless is not None:
        _obtain_and_print(request)  # the app's grantless cache: tokens.py locks it
        return None
    from spconnect.store import cache
    from spconnect.store.lock import RefreshLock

    with RefreshLock(cache.lock_path(request.profile), what=f"profile {request.profile!r}"):
        if not request.force_refresh:
            entry = cache.fresh_entry(request.profile, request.min_ttl)
            if entry is not None:
                _print_entry(request.format, request.profile, entry)
                return None
        # Still holding the lock (it is re-entrant): tokens.py checks once more and
        # refreshes, and every waiter behind us finds the new entry.
        _obtain_and_print(request)
    return None


# The shapes of secrets (amazon.md section 1): an argument containing one goes to the CLI,
# which refuses it without echoing it (a plain substring test: no `re` on the fast path).
_SECRET_MARKS = ("Atzr|", "Atza|", "amzn1.oa2-cs.")


def _token(args: list[str]) -> int | None:
    """Serve ``spconnect token ARGS``; None hands the call to the full CLI."""
    if any(mark in arg for arg in args for mark in _SECRET_MARKS):
        return None
    try:
        options = _parse_token_args(args)
        if options is None:
            return None
        request = _Request(options)
        if not request.valid():
            return None
        if _serve_cached_token(request):
            return 0
    except Exception:
        # Anything odd about the cache or the flags: the full CLI does the same job the
        # slow way and reports real problems properly. The fast path never fails.
        return None
    return _reported(lambda: _refresh_token_path(request))


def _split_exec_args(args: list[str]) -> tuple[list[str], list[str]]:
    """``exec``'s own flags and the command: flags end at ``--`` or at the first word that
    is neither a flag nor a flag's value (as the CLI parses them)."""
    i = 0
    while i < len(args):
        if args[i] == "--":
            return args[:i], args[i + 1 :]
        if not args[i].startswith("-"):
            return args[:i], args[i:]
        if args[i] in _EXEC_VALUE_FLAGS:
            i += 1  # its value follows
        i += 1
    return args, []


def _exec(args: list[str]) -> int | None:
    """Serve ``spconnect exec ARGS``; None hands the call to the full CLI."""
    try:
        flags, command = _split_exec_args(args)
        options = _parse_flags(flags, _EXEC_VALUE_FLAGS, {})
        if options is None or not command:
            return None
        profile = options.get("profile")
        # Absent: child_process's default (900 s, as the CLI's --min-ttl default).
        min_ttl = float(options["min_ttl"]) if "min_ttl" in options else None
        grantless = options.get("grantless")
        if grantless is not None and grantless not in _GRANTLESS_SCOPES:
            return None
    except Exception:
        return None
    from spconnect import child_process

    def become_command() -> int:
        variables = child_process.token_variables(profile, min_ttl=min_ttl, grantless=grantless)
        return child_process.run(command, child_process.child_environment(os.environ, variables))

    return _reported(become_command)


_API_VALUE_FLAGS = {
    "-X": "method",
    "--method": "method",
    "-f": "raw_field",
    "--raw-field": "raw_field",
    "-F": "field",
    "--field": "field",
    "--input": "input",
    "-H": "header",
    "--header": "header",
    "--rdt": "rdt",
    "-p": "profile",
    "--profile": "profile",
}
_API_SWITCHES = {
    "--paginate": "paginate",
    "--slurp": "slurp",
    "-i": "include",
    "--include": "include",
}


def _api(args: list[str], profile_before: str | None) -> int | None:
    """Serve ``spconnect api ARGS`` (api_command.py); None hands the call to the full CLI.
    Nothing is read or sent before the flags are known to be this path's."""
    try:
        from spconnect.redaction import secret_shape

        if any(secret_shape(arg) for arg in args):
            return None  # the CLI refuses it without echoing it
        parsed = _parse_command_line(args, _API_VALUE_FLAGS, _API_SWITCHES)
        if parsed is None or len(parsed[1]) != 1:
            return None  # no PATH, or two: the CLI's usage error
        options, (path,) = parsed
        after = options.get("profile", [None])[-1]
        if profile_before is not None and after is not None and after != profile_before:
            return None  # the CLI explains the conflict
        from spconnect.names import is_profile_name
        from spconnect.store import default_profile

        profile = default_profile.resolve(after or profile_before)[0]  # as cli/common.py
        if not is_profile_name(profile):
            return None
    except Exception:
        return None  # a malformed default profile file, ...: the CLI explains

    def last(name: str) -> str | None:
        return options.get(name, [None])[-1]

    from spconnect.api_command import ApiOptions, run

    api_options = ApiOptions(
        path=path,
        profile=profile,
        method=last("method"),
        raw_fields=tuple(options.get("raw_field", ())),
        typed_fields=tuple(options.get("field", ())),
        input_file=last("input"),
        headers=tuple(options.get("header", ())),
        paginate="paginate" in options,
        slurp="slurp" in options,
        rdt=last("rdt"),
        include="include" in options,
    )
    return _reported(lambda: run(api_options))


def _leading_profile(args: list[str]) -> tuple[str | None, list[str]] | None:
    """``-p NAME`` given before the command (``spconnect -p prod token``): the name and
    the arguments from the command on; None when anything else precedes the command."""
    profile = None
    i = 0
    while i < len(args) and args[i].startswith("-"):
        arg = args[i]
        if arg in ("-p", "--profile") and i + 1 < len(args):
            profile = args[i + 1]
            i += 2
        elif arg.startswith("--profile="):
            profile = arg.partition("=")[2]
            i += 1
        elif arg.startswith("-p") and len(arg) > 2:
            profile = arg[2:]
            i += 1
        else:
            return None  # -v, --help, --version, typos: the CLI's
    return profile, args[i:]


def _token_arguments(profile: str | None, args: list[str]) -> list[str] | None:
    """The arguments of a ``token`` call this path may serve, a profile given before the
    command moved after it; None when -p is on both sides."""
    if profile is None:
        return args
    if any(a in ("-p", "--profile") or a.startswith(("-p", "--profile=")) for a in args):
        return None  # -p on both sides: the CLI explains the conflict
    return [*args, "--profile", profile]


def _fast_path(args: list[str]) -> int | None:
    """The exit status of a call one of the paths above serves; None for the CLI."""
    if args[0] == "exec":
        return _exec(args[1:])
    leading = _leading_profile(args)
    if leading is None or not leading[1]:
        return None
    profile, (command, *rest) = leading
    if command == "token":
        token_args = _token_arguments(profile, rest)
        return None if token_args is None else _token(token_args)
    if command == "api":
        return _api(rest, profile)
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args:
        try:
            status = _fast_path(args)
        except KeyboardInterrupt:
            sys.stderr.write("\ninterrupted\n")
            return 130
        if status is not None:
            return status
    from spconnect.cli.main import run

    return run(args)

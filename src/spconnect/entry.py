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
"""

from __future__ import annotations

import os
import sys

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
    options: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        name, sep, inline = arg.partition("=")
        if arg in switches:
            options[switches[arg]] = "1"
        elif name in value_flags and (sep or name == "-p" or name.startswith("--")):
            if sep:
                value = inline
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                return None
            options[value_flags[name]] = value
        elif arg.startswith("-p") and len(arg) > 2 and "=" not in arg:
            options["profile"] = arg[2:]
        else:
            return None  # -v, --help, typos: not ours
        i += 1
    return options


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


def _refresh_token_path(request: _Request) -> int:
    """Steps 2 and 3 of the module docstring; returns the exit status."""
    from spconnect.amazon import trace
    from spconnect.errors import SpconnectError

    if trace.requested_by_environment():  # SPCONNECT_DEBUG=1: the refresh is traced
        trace.show_on_stderr()

    try:
        if request.grantless is None:
            from spconnect.store import cache
            from spconnect.store.lock import RefreshLock

            with RefreshLock(cache.lock_path(request.profile), what=f"profile {request.profile!r}"):
                if not request.force_refresh:
                    entry = cache.fresh_entry(request.profile, request.min_ttl)
                    if entry is not None:
                        _print_entry(request.format, request.profile, entry)
                        return 0
                # Still holding the lock (it is re-entrant): tokens.py checks once more and
                # refreshes, and every waiter behind us finds the new entry.
                _obtain_and_print(request)
        else:
            _obtain_and_print(request)  # the app's grantless cache: tokens.py locks it
    except SpconnectError as error:
        from spconnect.report import report_error

        return report_error(error)
    except Exception as error:
        from spconnect.report import report_unexpected

        return report_unexpected(error, verbose=False)
    return 0


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
    return _refresh_token_path(request)


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
    from spconnect.errors import SpconnectError

    try:
        variables = child_process.token_variables(profile, min_ttl=min_ttl, grantless=grantless)
    except SpconnectError as error:
        from spconnect.report import report_error

        return report_error(error)
    except Exception as error:
        from spconnect.report import report_unexpected

        return report_unexpected(error, verbose=False)
    return child_process.run(command, child_process.child_environment(os.environ, variables))


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


def _token_arguments(args: list[str]) -> list[str] | None:
    """The arguments of a ``token`` call this path may serve, a profile given before the
    command moved after it; None for any other command."""
    leading = _leading_profile(args)
    if leading is None:
        return None
    profile, rest = leading
    if not rest or rest[0] != "token":
        return None
    if profile is None:
        return rest[1:]
    if any(a in ("-p", "--profile") or a.startswith(("-p", "--profile=")) for a in rest[1:]):
        return None  # -p on both sides: the CLI explains the conflict
    return [*rest[1:], "--profile", profile]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    token_args = _token_arguments(args) if args else None
    if token_args is not None or (args and args[0] == "exec"):
        try:
            status = _token(token_args) if token_args is not None else _exec(args[1:])
        except KeyboardInterrupt:
            sys.stderr.write("\ninterrupted\n")
            return 130
        if status is not None:
            return status
    from spconnect.cli.main import run

    return run(args)

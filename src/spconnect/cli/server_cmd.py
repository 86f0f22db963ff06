"""``spconnect server``: pair this CLI with invite servers (``spconnect serve``, issue 11),
list them, forget them; as ``gh auth login/status/logout`` do for hosts."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from spconnect import servers
from spconnect.amazon import ids
from spconnect.cli.common import (
    InsecureStorageOpt,
    VerboseOpt,
    configured_names,
    out,
    read_secret,
    safe_document,
    say,
    setup_verbose,
)
from spconnect.cli.confirm import YesOpt, confirm_destructive
from spconnect.workspace import Workspace

app = typer.Typer(
    help="""Pair this CLI with your invite servers (`spconnect serve`).

    An invite server answers invite links for sellers who are somewhere else, on your own
    domain. Pairing keeps its admin token and a private key in the keyring here; the server
    gets the public key, and seals every seller's refresh token to it.

    Examples:

    \b
        spconnect server add prod --url https://invites.example.com --token-stdin < token.txt
        spconnect server list
        spconnect server remove prod
    """,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help, as the root's (cli/main.py)
)


def server_names(incomplete: str = "") -> list[str]:
    """Paired server names starting with ``incomplete`` (shell completion)."""
    return configured_names("servers", incomplete)


NameArg = Annotated[
    str,
    typer.Argument(
        metavar="NAME",
        autocompletion=server_names,
        help="A short name for the server in this CLI, e.g. 'prod'.",
        show_default=False,
    ),
]


@app.command("add")
def add(
    name: NameArg,
    url: Annotated[
        str,
        typer.Option(
            metavar="URL",
            help="Where this computer reaches the server's admin API: https, or plain http "
            "to a loopback address (127.0.0.1, ::1, localhost) only.",
        ),
    ],
    token_stdin: Annotated[
        bool,
        typer.Option(
            "--token-stdin",
            help="Read the admin token from stdin (the server prints it once, on its first "
            "start, as `admin token: ...`).",
        ),
    ] = False,
    yes: YesOpt = False,
    insecure_storage: InsecureStorageOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Pair with an invite server: check its admin token, register a new public key with
    it, keep the token and the private key in the keyring.

    Without --token-stdin the token is asked for without echo. Pairing a name again (a
    rotated token, a new address) asks first, and keeps the name's key, so that invites
    connected before still open.

    Examples:

    \b
        spconnect server add prod --url https://invites.example.com --token-stdin < token.txt
        spconnect server add prod --url https://invites.example.com   # asks for the token
        ssh -L 8080:127.0.0.1:8080 host &   # an admin API reachable only through a tunnel
        spconnect server add tunnel --url http://127.0.0.1:8080 --token-stdin < token.txt
    """
    setup_verbose(verbose)
    # Everything that can be refused without the token is refused before it is read.
    ids.check_profile_name(name)
    url = servers.check_server_url(url)
    ws = Workspace()
    servers.check_storage(ws, insecure_storage)
    previous = ws.config.servers.get(name)
    if previous is not None:
        confirm_destructive(
            f"invite server {name!r} is paired already ({previous.url}); pairing again "
            "replaces its address and admin token",
            yes=yes,
            command=f"spconnect server add {name} --url {url} --token-stdin --yes",
        )
    token = read_secret(from_stdin=token_stdin, what="admin token", flag="--token-stdin")
    pairing = servers.add_server(ws, name, url, token, insecure_storage=insecure_storage)
    server = pairing.server
    say(
        f"Paired with invite server {name!r} at {server.url}: it authorizes sellers for app "
        f"{server.app!r} ({server.client_id}); invite links start {server.public_url}/i/."
    )
    kept = " (the key this name had: invites connected before still open)"
    say(
        f"Admin token and private key stored in {ws.secrets.description}"
        + (kept if pairing.kept_key else "")
        + "."
    )
    if not ws.secrets.secure:
        say("Warning: secrets are kept in a plain 0600 file, not an encrypted keyring.")
    if pairing.local_app is None:
        say(
            f"Note: no app here has client id {server.client_id}; `invite pull` needs it "
            "(its client secret proves each token). Add it: `spconnect app add NAME "
            f"--client-id {server.client_id} --app-id ... --redirect-uri URL "
            "--client-secret-stdin`."
        )
    else:
        say(f"Invites are proven with app {pairing.local_app!r} when pulled.")
    say("Next: spconnect invite create -p PROFILE --marketplace US")


@app.command("list")
def list_servers(
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable JSON on stdout.")
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """List paired invite servers (one per line, tab-separated: name, admin URL, public
    URL, app, client id, paired at).

    Examples:

    \b
        spconnect server list
        spconnect server list | cut -f1     # the names only
        spconnect server list --json | jq -r '.servers[].public_url'
    """
    setup_verbose(verbose)
    ws = Workspace()
    listed = [
        {
            "name": name,
            "url": server.url,
            "public_url": server.public_url,
            "app": server.app,
            "client_id": server.client_id,
            "paired_at": server.added_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for name, server in sorted(ws.config.servers.items())
    ]
    if as_json:
        out(json.dumps(safe_document({"servers": listed}), indent=2) + "\n")
        return
    if not listed:
        say("No invite servers paired. Pair one with `spconnect server add`.")
        return
    for fields in listed:
        out("\t".join(fields.values()) + "\n")


@app.command("remove")
def remove(name: NameArg, yes: YesOpt = False, verbose: VerboseOpt = False) -> None:
    """Forget an invite server: its admin token, private key and settings (asks first).

    Invites connected but not yet pulled cannot be opened afterwards: only the private
    key removed here opens them. The server itself keeps running.

    Examples:

    \b
        spconnect invite pull --server prod && spconnect server remove prod
        spconnect server remove prod --yes   # without a terminal
    """
    setup_verbose(verbose)
    ws = Workspace()
    ws.config.server(name)
    confirm_destructive(
        f"this deletes the admin token and private key of invite server {name!r} from this "
        "machine; what it sealed and was not pulled yet can then never be opened",
        yes=yes,
        command=f"spconnect server remove {name} --yes",
    )
    servers.remove_server(ws, name)
    say(f"Removed invite server {name!r}: admin token, private key and settings.")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="server")

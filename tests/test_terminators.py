"""docs/serve.md's Caddy and nginx snippets, run as written in front of the invite server.

The real Caddy and nginx (Debian's packages; ./scripts/test installs them) are each
configured by the snippet taken out of docs/serve.md, section 6, when the test runs, with
only what a test cannot have replaced: the host name, the ports, the certificate, the
log's path and, around the snippet, what a distribution's main configuration file holds.
So the documentation cannot drift from what works. Through each terminator:

- a seller's consent completes (the invite page, the button, Amazon's answer);
- the admin API is refused to an address outside the snippet's allowed range, and no
  request for it reaches the server;
- a body over the snippet's 64 KB is refused (413): by nginx itself, by the server's own
  cap behind Caddy 2.6, which passes bodies on as they come;
- a request head left unfinished is timed out by the terminator (uvicorn has no such
  timeout);
- the server sees each client's own address (X-Forwarded-For, from the terminator only),
  so the rate limit is per seller, not one bucket for the terminator;
- no log the terminator or the server wrote holds Amazon's code or the state.

Clients come from distinct loopback addresses (127.0.0.2, 127.0.0.3: all of 127/8 is
this machine on Linux), which is how the terminator tells them apart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import re
import socket
import ssl
import subprocess
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from spconnect.consent.tls import Certificate
from tests.conftest import Cli, free_port, skip_or_fail
from tests.serve_harness import ADMIN_TOKEN, PUBLIC_URL, Browser, Deploy, Deployment
from tests.tls_terminator import self_signed_certificate

DOCS = Path(__file__).resolve().parent.parent / "docs" / "serve.md"
DOCS_HOST = "connect.example.com"  # the snippets' host name
PUBLIC_HOST = urlsplit(PUBLIC_URL).hostname or ""
BINARIES = {"caddy": ("/usr/bin/caddy",), "nginx": ("/usr/sbin/nginx", "/usr/bin/nginx")}
START_SECONDS = 20
# The snippets' 10 s for a request head, shortened so that the test of it is quick.
HEAD_TIMEOUT = 2


def snippet(language: str) -> str:
    """The first ``language`` code block of docs/serve.md's section 6."""
    text = DOCS.read_text()
    section = text[text.index("## 6. The TLS terminator") :]
    found = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert found, f"docs/serve.md, section 6, has no {language} block"
    return found.group(1)


def swap(text: str, old: str, new: str) -> str:
    assert old in text, f"the snippet no longer says {old!r}: update this test with the docs"
    return text.replace(old, new)


def caddy_config(cert: Certificate, upstream: int, port: int, work: Path) -> str:
    text = swap(
        snippet("caddyfile"),
        f"\n{DOCS_HOST} {{",
        f"\nhttps://{PUBLIC_HOST}:{port} {{\n\ttls {cert.cert_path} {cert.key_path}",
    )
    text = swap(text, "127.0.0.1:8080", f"127.0.0.1:{upstream}")
    text = swap(text, "read_header 10s", f"read_header {HEAD_TIMEOUT}s")
    # Global options a test needs, added to the snippet's: no admin endpoint, no
    # certificate authority, nothing written outside its own directory, no listener on
    # the http port.
    return swap(
        text,
        "{\n\tservers {",
        "{\n\tadmin off\n\tauto_https disable_redirects\n\tskip_install_trust\n"
        f"\thttp_port {free_port()}\n\thttps_port {port}\n"
        f"\tstorage file_system {work / 'data'}\n\tservers {{",
    )


def nginx_config(cert: Certificate, upstream: int, port: int, work: Path) -> str:
    http = snippet("nginx")
    http = swap(http, "listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
    http = swap(http, "listen 80;", f"listen 127.0.0.1:{free_port()};")
    http = re.sub(r"\n *listen \[::\]:\d+[^\n]*", "", http)  # IPv6 may be off here
    http = swap(http, f"server_name {DOCS_HOST};", f"server_name {PUBLIC_HOST};")
    http = swap(http, f"/etc/letsencrypt/live/{DOCS_HOST}/fullchain.pem", cert.cert_path)
    http = swap(http, f"/etc/letsencrypt/live/{DOCS_HOST}/privkey.pem", cert.key_path)
    http = swap(http, "/var/log/nginx/spconnect.access.log", str(work / "access.log"))
    http = swap(http, "127.0.0.1:8080", f"127.0.0.1:{upstream}")
    http = swap(http, "client_header_timeout 10s;", f"client_header_timeout {HEAD_TIMEOUT}s;")
    # What /etc/nginx/nginx.conf holds around it, pointed into the test's directory; the
    # workers run as the test's user (the master would otherwise switch them to nobody).
    user = pwd.getpwuid(os.geteuid()).pw_name
    temp = "\n".join(
        f"    {kind}_temp_path {work / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"daemon off;\n{f'user {user};' if os.geteuid() == 0 else ''}\n"
        f"worker_processes 1;\npid {work / 'nginx.pid'};\nerror_log {work / 'error.log'};\n"
        "events {\n    worker_connections 64;\n}\n"
        f"http {{\n    access_log {work / 'other.access.log'};\n{temp}\n{http}\n}}\n"
    )


@dataclass
class Terminator:
    kind: str
    url: str  # https://127.0.0.1:PORT, which sellers reach as PUBLIC_URL
    cert: Certificate
    work: Path

    def browser(self, d: Deployment, address: str) -> Browser:
        context = ssl.create_default_context(cafile=self.cert.cert_path)
        browser = Browser(self.url, terminator=True, verify=context, local_address=address)
        d.browsers.append(browser)
        return browser

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.work.glob("*.log"))


def installed(kind: str) -> str:
    """The terminator's program; a skip (a failure under CI) when it is not installed."""
    binary = next((b for b in BINARIES[kind] if os.access(b, os.X_OK)), None)
    if binary is None:
        skip_or_fail(f"{kind} is not installed (./scripts/test installs it)")
        raise AssertionError("unreachable")
    return binary


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running(kind: str, d: Deployment, work: Path) -> Iterator[Terminator]:
    binary = installed(kind)
    work.mkdir(mode=0o700)
    cert = self_signed_certificate(PUBLIC_HOST, work / "tls")
    port = free_port()
    upstream = int(urlsplit(d.server.url).port or 0)
    if kind == "caddy":
        config = work / "Caddyfile"
        config.write_text(caddy_config(cert, upstream, port, work))
        command = [binary, "run", "--config", str(config), "--adapter", "caddyfile"]
    else:
        config = work / "nginx.conf"
        config.write_text(nginx_config(cert, upstream, port, work))
        command = [binary, "-c", str(config), "-p", str(work), "-e", str(work / "error.log")]
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "XDG_CONFIG_HOME": str(work / "config"),
        "XDG_DATA_HOME": str(work / "data"),
    }
    with (work / "terminator.log").open("wb") as output:
        process = subprocess.Popen(
            command, env=environment, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"{kind} did not start:\n{(work / 'terminator.log').read_text()}"
                )
            time.sleep(0.05)
        yield Terminator(kind, f"https://127.0.0.1:{port}", cert, work)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(params=["caddy", "nginx"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server_log() -> Iterator[list[str]]:
    """The server's request log (``<client> <method> <path> <status> <ms>``), as it is
    written, whatever handlers the process has."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("spconnect.serve")
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_seller_connects_through_the_documented_terminator(
    kind: str, deploy: Deploy, tmp_path: Path, server_log: list[str]
) -> None:
    d = deploy()
    with running(kind, d, tmp_path / kind) as terminator:
        seller = d.emulator.state.add_account("Acme Shop")
        invite = d.invite()
        browser = terminator.browser(d, "127.0.0.2")
        page = browser.request("GET", invite["url"])
        assert page.status_code == 200 and "Continue to Amazon" in page.text, page.text
        d.emulator.state.auto_approve = seller.selling_partner_id
        answer = browser.go(invite["url"], "POST")
        assert answer.status_code == 200 and "Connected" in answer.text, answer.text
        assert d.status(invite["id"])["selling_partner_id"] == seller.selling_partner_id
        assert d.code_exchanges() == 1
        (cookie,) = set(browser.set_cookies)  # through the terminator, unchanged
        assert cookie.startswith("__Host-spconnect=") and "Secure" in cookie.split("; ")

        # Amazon's answer passed through: nothing the terminator logged holds it.
        answered = [u for u in browser.visited() if u.startswith(d.settings.redirect_uri)]
        assert answered
        secrets = {
            v
            for u in answered
            for k, v in parse_qsl(urlsplit(u).query)
            if k != "selling_partner_id"
        }
        assert secrets
    logs = terminator.logs() + "\n".join(server_log)
    if kind == "nginx":  # its access log, in the snippet's format: paths only
        assert f'GET {urlsplit(d.settings.redirect_uri).path}" 200' in logs, logs
    assert sum(secret in logs for secret in secrets) == 0, "a code or state is in a log"


def test_the_admin_api_is_refused_from_outside_the_allowed_addresses(
    kind: str, deploy: Deploy, tmp_path: Path, server_log: list[str]
) -> None:
    d = deploy()
    with running(kind, d, tmp_path / kind) as terminator:
        browser = terminator.browser(d, "127.0.0.2")  # not in the snippet's allowed ranges
        for path in ("/admin/v1/info", "/admin/v1/invites"):
            refused = browser.request(
                "GET", PUBLIC_URL + path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            )
            assert refused.status_code in (403, 404), (path, refused.status_code)
            assert "client_id" not in refused.text and "invites" not in refused.text
        assert not [line for line in server_log if " GET /admin" in line]  # never forwarded
        # The server itself, as the CLI reaches it through an SSH tunnel, answers.
        assert d.admin("GET", "/admin/v1/info").status_code == 200


def test_an_oversized_body_stops_at_the_terminator(
    kind: str, deploy: Deploy, tmp_path: Path, server_log: list[str]
) -> None:
    d = deploy()
    with running(kind, d, tmp_path / kind) as terminator:
        invite = d.invite()
        browser = terminator.browser(d, "127.0.0.2")
        try:
            status = browser.request("POST", invite["url"], data={"x": "a" * 100_000}).status_code
        except httpx.RemoteProtocolError:  # Caddy relayed the 413, then cut it off
            status = 0
        assert d.status(invite["id"])["status"] == "pending" and d.code_exchanges() == 0
    posted = [line for line in server_log if " POST /i/" in line]
    if kind == "nginx":  # refused by the terminator; the server never saw it
        assert status == 413 and not posted
    else:
        # Caddy 2.6 streams it on and the server's own cap refuses it (docs/serve.md); the
        # client then sees the 413, or Caddy's 502 when the cut-off body reached it first.
        assert status in (413, 502, 0) and len(posted) == 1 and " 413 " in posted[0], posted


def test_a_request_head_left_unfinished_is_timed_out_by_the_terminator(
    kind: str, deploy: Deploy, tmp_path: Path
) -> None:
    """uvicorn would wait for the rest of a request head forever; the snippets' timeout
    (10 s, here shortened to HEAD_TIMEOUT) drops the client."""
    d = deploy()
    with running(kind, d, tmp_path / kind) as terminator:
        context = ssl.create_default_context(cafile=terminator.cert.cert_path)
        port = int(urlsplit(terminator.url).port or 0)
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=PUBLIC_HOST) as tls,
        ):
            started = time.monotonic()
            tls.sendall(f"GET /healthz HTTP/1.1\r\nHost: {PUBLIC_HOST}\r\nX-Wait:".encode())
            answer = b""
            with contextlib.suppress(ssl.SSLError, ConnectionError):
                while chunk := tls.recv(4096):  # until the terminator closes
                    answer += chunk
            waited = time.monotonic() - started
        assert HEAD_TIMEOUT - 0.5 <= waited < HEAD_TIMEOUT + 5, waited
        assert b" 200 " not in answer  # the request was never completed or forwarded


def test_each_client_has_its_own_rate_limit_behind_it(
    kind: str, deploy: Deploy, tmp_path: Path, server_log: list[str]
) -> None:
    """The terminator's X-Forwarded-For is believed (it connects from loopback): two
    sellers behind it are two buckets, not one shared by everybody."""
    d = deploy(rate_limit=2)
    with running(kind, d, tmp_path / kind) as terminator:
        invite = d.invite()
        first = terminator.browser(d, "127.0.0.2")
        statuses = [first.request("GET", invite["url"]).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        second = terminator.browser(d, "127.0.0.3")
        assert second.request("GET", invite["url"]).status_code == 200
    clients = [line.split()[0] for line in server_log if " GET /i/" in line]
    assert clients == ["127.0.0.2"] * 3 + ["127.0.0.3"], server_log


def test_serve_help_shows_a_deployment_whose_caddyfile_caddy_accepts(
    cli: Cli, tmp_path: Path
) -> None:
    """`spconnect serve --help` shows a systemd unit and a Caddyfile (issue 11); Caddy
    itself reads that Caddyfile without complaint."""
    shown = cli.ok("serve", "--help").stdout
    for line in ("LoadCredential=client-secret:", "--client-secret-file %d/client-secret"):
        assert line in shown
    start = shown.index("# /etc/caddy/Caddyfile")
    lines = shown[start:].splitlines()[1:]
    end = next(i for i, line in enumerate(lines) if line.strip() == "}" and not line[6:7].isspace())
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(textwrap.dedent("\n".join(lines[: end + 1])) + "\n")
    binary = installed("caddy")
    adapted = subprocess.run(
        [binary, "adapt", "--config", str(caddyfile), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        timeout=30,
    )
    assert adapted.returncode == 0, adapted.stderr
    assert '"dial":"127.0.0.1:8080"' in adapted.stdout.replace(" ", "")

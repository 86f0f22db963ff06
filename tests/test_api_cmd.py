"""``spconnect api`` as a user runs it: the real console script against the emulator, with
the profile's secrets in the real Secret Service."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest

from spconnect.emulator import Emulator
from spconnect.errors import ExitCode
from tests.conftest import Cli, Seller

pytestmark = pytest.mark.keyring

US = "ATVPDKIKX0DER"
ORDERS = ("/orders/v0/orders", "-f", f"MarketplaceIds={US}", "-f", "CreatedAfter=2025-01-01")


@pytest.fixture
def shop(seller: Seller, emulator: Emulator) -> list[str]:
    """The seller's seven orders, by id, in Amazon's order; getOrders allows 100 a second
    (Amazon's 0.0167 would make each test wait a minute per page)."""
    emulator.state.set_rate_limit("getOrders", rate=100, burst=20)
    orders = emulator.state.add_orders(seller.account.selling_partner_id, 7)
    return [str(order["AmazonOrderId"]) for order in orders]


def order_ids(document: object) -> list[str]:
    assert isinstance(document, dict)
    return [order["AmazonOrderId"] for order in document["payload"]["Orders"]]


def test_get_with_fields_prints_amazons_answer(cli: Cli, shop: list[str]) -> None:
    result = cli.ok("api", *ORDERS)
    assert order_ids(json.loads(result.stdout)) == shop
    assert result.stderr == ""


def test_a_repeated_list_parameter_reaches_amazon_as_one_comma_list(
    cli: Cli, seller: Seller, shop: list[str], emulator: Emulator
) -> None:
    canada = "A2EUQ1WTGCTBG2"
    more = emulator.state.add_orders(seller.account.selling_partner_id, 2, marketplace_id=canada)
    both = cli.ok("api", *ORDERS, "-f", f"MarketplaceIds={canada}")
    assert order_ids(json.loads(both.stdout)) == shop + [str(o["AmazonOrderId"]) for o in more]


def test_paginate_prints_each_page_on_a_line_and_slurp_one_array(cli: Cli, shop: list[str]) -> None:
    paged = cli.ok("api", "--paginate", *ORDERS, "-F", "MaxResultsPerPage=3")
    lines = paged.stdout.splitlines()
    assert len(lines) == 3
    assert [i for line in lines for i in order_ids(json.loads(line))] == shop
    slurped = json.loads(
        cli.ok("api", "--paginate", "--slurp", *ORDERS, "-F", "MaxResultsPerPage=3").stdout
    )
    assert [len(order_ids(page)) for page in slurped] == [3, 3, 1]


def test_paginate_keeps_to_the_usage_plan_without_a_429(
    cli: Cli, seller: Seller, shop: list[str], emulator: Emulator
) -> None:
    """Design, "Speed": a steady export spends the burst, then keeps to the rate."""
    emulator.state.add_orders(seller.account.selling_partner_id, 18)
    emulator.state.set_rate_limit("getOrders", rate=5, burst=20)  # Amazon's burst
    started = time.monotonic()
    result = cli.ok("api", "--paginate", *ORDERS, "-F", "MaxResultsPerPage=1")
    elapsed = time.monotonic() - started
    assert len(result.stdout.splitlines()) == 25
    assert emulator.count("getOrders:throttled") == 0
    assert emulator.count("getOrders:ok") == 25
    assert elapsed >= (25 - 20) / 5  # the plan's floor: the pacing did happen


def test_a_drained_bucket_is_waited_for_not_reported(
    cli: Cli, shop: list[str], emulator: Emulator
) -> None:
    # Another program of the same app has just drained this seller's getOrders bucket.
    emulator.state.set_rate_limit("getOrders", rate=2, burst=20)
    emulator.inject("rate_limit", endpoint="orders")
    result = cli.run("api", "-v", *ORDERS)
    assert result.returncode == 0, result.output
    assert order_ids(json.loads(result.stdout)) == shop
    assert "-> 429 in" in result.stderr and "QuotaExceeded" in result.stderr
    assert "; retrying" in result.stderr
    assert "waited 0.5" in result.stderr  # a refill at 2 per second
    assert "-> 200 in" in result.stderr


def test_an_error_status_exits_9_with_the_body_on_stdout(cli: Cli, shop: list[str]) -> None:
    result = cli.run("api", "-i", "/orders/v0/orders", "-f", f"MarketplaceIds={US}")
    assert result.returncode == ExitCode.API_ERROR_STATUS == 9
    head, _, body = result.stdout.partition("\n\n")
    assert head.startswith("HTTP/1.1 400 Bad Request")
    assert json.loads(body)["errors"][0]["code"] == "InvalidInput"
    request_id = next(
        line.split(":", 1)[1].strip()
        for line in head.splitlines()
        if line.lower().startswith("x-amzn-requestid")
    )
    assert "error: the SP-API answered GET /orders/v0/orders with 400 Bad Request: " in (
        result.stderr
    )
    assert "InvalidInput: Exactly one of CreatedAfter and LastUpdatedAfter" in result.stderr
    assert f"(request id {request_id})" in result.stderr
    assert "developer-docs.amazon.com/sp-api" in result.stderr


def test_server_errors_are_retried_and_a_post_is_not(
    cli: Cli, shop: list[str], emulator: Emulator
) -> None:
    emulator.inject("status", times=2, status=503, endpoint="orders")
    assert order_ids(json.loads(cli.ok("api", *ORDERS).stdout)) == shop
    emulator.inject("status", times=1, status=500, endpoint="tokens")
    resources = {"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders"}]}
    result = cli.run(
        "api",
        "-X",
        "POST",
        "/tokens/2021-03-01/restrictedDataToken",
        "--input",
        "-",
        input=json.dumps(resources),
    )
    assert result.returncode == ExitCode.AMAZON_UNAVAILABLE
    assert "not retried, since a POST may have taken effect" in result.stderr
    assert result.stdout == ""


def test_rdt_brings_personal_data_and_never_shows_the_token(
    cli: Cli, shop: list[str], emulator: Emulator
) -> None:
    plain = json.loads(cli.ok("api", *ORDERS).stdout)["payload"]["Orders"][0]
    assert "BuyerInfo" not in plain
    result = cli.ok("api", "-v", "--rdt", "buyerInfo,shippingAddress", *ORDERS)
    order = json.loads(result.stdout)["payload"]["Orders"][0]
    assert order["BuyerInfo"]["BuyerEmail"] == "buyer0@marketplace.amazon.com"
    assert order["ShippingAddress"]["AddressLine1"] == "1 Main Street"
    assert "got a restricted data token for GET /orders/v0/orders" in result.stderr
    rdts = list(emulator.state.restricted_tokens)
    assert len(rdts) == 1
    assert rdts[0] not in result.output and rdts[0].split("|")[1] not in result.output
    # An element the operation does not have: Amazon's refusal, exit 9, its body on stdout.
    refused = cli.run("api", "--rdt", "creditCard", *ORDERS)
    assert refused.returncode == 9
    assert json.loads(refused.stdout)["errors"][0]["code"] == "InvalidInput"
    assert "the restricted data token for GET /orders/v0/orders" in refused.stderr


def test_an_export_outlives_its_restricted_data_token(
    cli: Cli, seller: Seller, shop: list[str], emulator: Emulator
) -> None:
    """Amazon's clock runs past the RDT's expiry (and the access token's) mid-export: the
    refused page gets a new RDT, after one refresh of the access token, and the export
    goes on; neither RDT is printed or written anywhere."""
    import subprocess

    from tests.conftest import CONSOLE_SCRIPT

    emulator.state.add_orders(seller.account.selling_partner_id, 16)  # 23 in all
    # Amazon's burst of 20, then one page a second: time to move the clock meanwhile.
    emulator.state.set_rate_limit("getOrders", rate=1, burst=20)
    cli.ok("token")
    before = emulator.count("token_requests")
    args = ["api", "--paginate", "--rdt", "buyerInfo", *ORDERS, "-F", "MaxResultsPerPage=1"]
    process = subprocess.Popen(
        [CONSOLE_SCRIPT, *args],
        env=cli.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(20)]  # the burst
    emulator.state.advance(3700)  # both tokens expire on Amazon's side
    out, err = process.communicate(timeout=60)
    lines += out.splitlines(keepends=True)
    assert process.returncode == 0, err
    orders = [o for line in lines for o in json.loads(line)["payload"]["Orders"]]
    assert [o["AmazonOrderId"] for o in orders] == [
        str(o["AmazonOrderId"]) for o in emulator.state.orders[seller.account.selling_partner_id]
    ]
    assert all(o["BuyerInfo"]["BuyerEmail"] for o in orders)
    assert emulator.count("getOrders") - emulator.count("getOrders:ok") == 1  # one refusal
    assert emulator.count("createRestrictedDataToken") == 3  # a refused request, two RDTs
    assert emulator.count("token_requests") == before + 1
    rdts = list(emulator.state.restricted_tokens)
    assert len(rdts) == 2
    for rdt in rdts:
        assert rdt.partition("|")[2] not in "".join(lines) + err
        for path in cli.files():
            assert rdt.partition("|")[2] not in path.read_text(errors="replace"), path


def test_paginate_sends_get_reports_its_next_token_alone(
    cli: Cli, seller: Seller, emulator: Emulator
) -> None:
    """getReports refuses a nextToken beside any filter (its reference); the filters go
    with the first page only."""
    emulator.state.set_rate_limit("getReports", rate=100, burst=10)
    made = emulator.state.add_reports(seller.account.selling_partner_id, 5)
    emulator.state.add_reports(seller.account.selling_partner_id, 3, report_type="OTHER")
    result = cli.ok(
        "api",
        "--paginate",
        "/reports/2021-06-30/reports",
        "-f",
        "reportTypes=GET_MERCHANT_LISTINGS_ALL_DATA",
        "-F",
        "pageSize=2",
    )
    pages = [json.loads(line) for line in result.stdout.splitlines()]
    assert [len(page["reports"]) for page in pages] == [2, 2, 1]
    assert [r["reportId"] for page in pages for r in page["reports"]] == [
        r["reportId"] for r in made
    ]
    assert "nextToken" not in pages[-1]


def test_bad_flags_exit_2_before_anything_is_sent(
    cli: Cli, shop: list[str], emulator: Emulator
) -> None:
    before = emulator.count("getOrders")
    for args, said in (
        (("https://evil.example/orders/v0/orders",), "must be a path on the SP-API endpoint"),
        # Not token-shaped, so that this check is the one that refuses it (main's CLI
        # refuses token-shaped arguments of every command before they get here).
        (("-H", "x-amz-access-token: from-argv", "/orders/v0/orders"), "not yours to set"),
        (("--slurp", "/orders/v0/orders"), "--slurp needs --paginate"),
        # The method as a word before the path, as some HTTP clients take it.
        (("GET", "/orders/v0/orders"), "the method goes in -X: spconnect api -X GET PATH"),
        (("delete", "/x"), "the method goes in -X: spconnect api -X DELETE PATH"),
        (("-F", "note=@/nonexistent/file", "-X", "POST", "/x"), "cannot read /nonexistent"),
        # A restricted data token's shape, refused before parsing, never echoed.
        (("-f", "t=Atz.sprdt|from-argv", "-X", "POST", "/x"), "never taken as command-line"),
    ):
        result = cli.run("api", *args)
        assert result.returncode == ExitCode.USAGE, result.output
        assert said in result.stderr
        assert "from-argv" not in result.output
    assert emulator.count("getOrders") == before


def test_the_fast_route_and_the_cli_answer_alike(cli: Cli, shop: list[str]) -> None:
    """Without -v, `api` runs without Typer (entry.py); with -v, through the Typer
    command. Both run api_command.py: the same output, messages and exit codes."""
    import re

    def lines(stderr: str) -> list[str]:
        # Each answer has its own request id; -v adds trace lines.
        return [
            re.sub(r"request id \w+", "request id ID", line)
            for line in stderr.splitlines()
            if not line.startswith("spconnect: ")
        ]

    for args in (
        (f"/orders/v0/orders/{shop[0]}",),  # getOrder: nothing in it changes with the time
        ("/orders/v0/orders", "-f", f"MarketplaceIds={US}"),  # exit 9, Amazon's body
        ("-p", "nope", *ORDERS),  # exit 3
        ("-X", "TRACE", "/orders/v0/orders"),  # exit 2 from the request's checks
        ("--slurp", *ORDERS),
        ("--rdt", "a b", *ORDERS),
    ):
        fast, full = cli.run("api", *args), cli.run("api", "-v", *args)
        assert fast.returncode == full.returncode, args
        assert fast.stdout == full.stdout, args
        assert lines(fast.stderr) == lines(full.stderr), args


def test_unknown_profile_is_exit_3(cli: Cli, shop: list[str]) -> None:
    result = cli.run("api", "-p", "nope", *ORDERS)
    assert result.returncode == ExitCode.NOT_SET_UP
    assert "spconnect login -p nope" in result.stderr


@pytest.fixture
def huge_answer() -> Iterator[str]:
    """An SP-API stand-in that answers 33 MiB of JSON-looking bytes."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            size = 33 * 1024 * 1024
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            try:
                for _ in range(size // 65536):
                    self.wfile.write(b" " * 65536)
            except OSError:
                pass  # spconnect hung up, as it should

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_answer_longer_than_the_cap_is_exit_6(
    cli: Cli, seller: Seller, huge_answer: str
) -> None:
    result = cli.run("api", "/orders/v0/orders", env={"SPCONNECT_SPAPI_URL": huge_answer})
    assert result.returncode == ExitCode.AMAZON_UNAVAILABLE
    assert "is longer than 32768 KiB" in result.stderr
    assert result.stdout == ""


def test_no_secret_reaches_api_output(
    cli: Cli, seller: Seller, shop: list[str], emulator: Emulator
) -> None:
    """Access token, refresh token, client secret and RDT: in no output, with or without
    -v, on success or failure (design, "Security rules")."""
    for verbose in ((), ("-v",)):
        cli.ok("api", *verbose, "--paginate", *ORDERS, "-F", "MaxResultsPerPage=4")
        cli.ok("api", *verbose, "--rdt", "buyerInfo", *ORDERS)
        cli.run("api", *verbose, "--rdt", "nonsense", *ORDERS)
        cli.run("api", *verbose, "-i", "/orders/v0/orders")
        emulator.inject("status", times=1, status=503, endpoint="orders")
        cli.run("api", *verbose, "/orders/v0/orders/no-such-order")  # retried, then 404
    secrets = [seller.refresh_token, seller.app.client_secret]
    secrets += list(emulator.state.access_tokens) + list(emulator.state.restricted_tokens)
    assert len(emulator.state.restricted_tokens) == 2
    for result in cli.history:
        for secret in secrets:
            assert secret not in result.output, f"{result.args} leaked a secret"
            assert (secret.partition("|")[2] or secret) not in result.output
    for path in cli.files():
        text = path.read_text(errors="replace")
        for secret in list(emulator.state.restricted_tokens):
            assert (secret.partition("|")[2] or secret) not in text, f"{path} holds an RDT"


# -- terminal or pipe ------------------------------------------------------------------


def run_on_terminal(
    cli: Cli, *args: str, stdout: bool = False, stderr: bool = False
) -> tuple[int, str, str]:
    """Run spconnect with stdout and/or stderr on a pseudo-terminal (the rest piped);
    returns (exit status, stdout, stderr), the terminal's newlines back to '\\n'."""
    import os
    import pty
    import subprocess

    from tests.conftest import CONSOLE_SCRIPT

    master, slave = pty.openpty()
    process = subprocess.Popen(
        [CONSOLE_SCRIPT, *args],
        env=cli.env,
        stdin=subprocess.DEVNULL,
        stdout=slave if stdout else subprocess.PIPE,
        stderr=slave if stderr else subprocess.PIPE,
    )
    os.close(slave)
    seen = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every end of the terminal is closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    piped_out, piped_err = process.communicate(timeout=60)
    on_terminal = seen.decode().replace("\r\n", "\n")
    return (
        process.returncode,
        on_terminal if stdout else piped_out.decode(),
        on_terminal if stderr else piped_err.decode(),
    )


def test_json_is_pretty_on_a_terminal_and_compact_when_piped(cli: Cli, shop: list[str]) -> None:
    piped = cli.ok("api", *ORDERS).stdout
    document = json.loads(piped)
    assert piped == json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n"
    status, shown, _ = run_on_terminal(cli, "api", *ORDERS, stdout=True)
    assert status == 0
    on_terminal = json.loads(shown)
    assert order_ids(on_terminal) == order_ids(document) == shop
    assert shown == json.dumps(on_terminal, indent=2, ensure_ascii=False) + "\n"
    # An error body (exit 9) is data too, printed the same way.
    piped_error = cli.run("api", "/orders/v0/orders", "-f", f"MarketplaceIds={US}")
    assert piped_error.returncode == 9
    assert piped_error.stdout.count("\n") == 1 and '"errors":[{' in piped_error.stdout
    status, shown, _ = run_on_terminal(
        cli, "api", "/orders/v0/orders", "-f", f"MarketplaceIds={US}", stdout=True
    )
    assert status == 9 and '\n  "errors": [\n' in shown


def test_a_429_wait_is_shown_on_a_terminal_and_not_in_a_pipe(
    cli: Cli, shop: list[str], emulator: Emulator
) -> None:
    emulator.state.set_rate_limit("getOrders", rate=2, burst=20)
    emulator.inject("rate_limit", endpoint="orders")
    status, stdout, stderr = run_on_terminal(cli, "api", *ORDERS, stderr=True)
    assert status == 0, stderr
    assert order_ids(json.loads(stdout)) == shop
    said = "GET /orders/v0/orders: throttled by Amazon (429); waiting 0.5 s before attempt 2 of 5"
    assert said in stderr
    emulator.inject("rate_limit", endpoint="orders")
    piped = cli.ok("api", *ORDERS)
    assert piped.stderr == ""
    assert emulator.count("getOrders:ok") == 2


def test_throttling_gives_up_after_the_documented_bound_with_exit_6(
    cli: Cli, shop: list[str], emulator: Emulator
) -> None:
    from spconnect.spapi.caller import RetryPolicy

    # The bound the help and the caller's docstring state.
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.max_wait) == (5, 120.0)
    help_text = " ".join(cli.ok("api", "--help").stdout.split())
    assert "at most 5 attempts and 120 s of waiting per request" in help_text
    emulator.inject("rate_limit", times=10, endpoint="orders")  # at getOrders' rate, 100/s
    result = cli.run("api", *ORDERS)
    assert result.returncode == ExitCode.AMAZON_UNAVAILABLE
    assert "429 Too Many Requests: QuotaExceeded" in result.stderr
    assert "gave up after 5 attempt(s)" in result.stderr
    assert emulator.state.faults[0].times == 10 - 5  # five requests reached Amazon
    assert result.stdout == ""


# -- a refused token ---------------------------------------------------------------------


def test_a_token_amazon_finds_expired_is_renewed_once_and_the_call_repeated(
    cli: Cli, shop: list[str], emulator: Emulator
) -> None:
    """The cache trusts this machine's clock; Amazon, its own. When they disagree Amazon
    says "expired": one refresh, and the call goes through."""
    old = cli.ok("token").stdout.strip()
    emulator.state.advance(3700)
    before = emulator.count("token_requests")
    result = cli.run("api", *ORDERS)
    assert result.returncode == 0, result.output
    assert order_ids(json.loads(result.stdout)) == shop
    assert emulator.count("token_requests") == before + 1
    assert cli.ok("token").stdout.strip() != old  # the renewed token is the cached one


def test_a_revoked_authorization_is_exit_4_with_the_reauth_hint(
    cli: Cli, seller: Seller, shop: list[str], emulator: Emulator
) -> None:
    cli.ok("token")  # a fresh cached token, which the seller's revocation revokes too
    emulator.state.revoke(seller.refresh_token)
    before = emulator.count("token_requests")
    result = cli.run("api", *ORDERS)
    assert result.returncode == ExitCode.AUTHORIZATION_REJECTED == 4, result.output
    assert "the SP-API refused the access token for GET /orders/v0/orders" in result.stderr
    assert "revoked, malformed or invalid" in result.stderr
    assert "invalid_grant" in result.stderr
    assert "spconnect reauth -p default" in result.stderr
    assert emulator.count("token_requests") == before + 1  # one refresh, not a loop
    assert result.stdout == ""


def test_rejected_app_credentials_are_exit_5_with_the_set_secret_hint(
    cli: Cli, seller: Seller, shop: list[str], emulator: Emulator
) -> None:
    """Amazon finds the token expired, and the refresh meets the app's expired secret
    (the 180-day rotation, amazon.md section 7)."""
    cli.ok("token")
    emulator.state.advance(3700)
    emulator.state.rotate_secret(seller.app.client_id)
    emulator.state.expire_old_secrets(seller.app.client_id)
    result = cli.run("api", *ORDERS)
    assert result.returncode == ExitCode.CLIENT_REJECTED == 5, result.output
    assert "has expired" in result.stderr and "invalid_client" in result.stderr
    assert "spconnect app set-secret demo" in result.stderr


def test_other_refusals_stay_exit_9_without_a_refresh(
    cli: Cli, shop: list[str], emulator: Emulator
) -> None:
    """getOrderBuyerInfo without a restricted data token: Amazon's generic 403, which no
    new token would change."""
    cli.ok("token")
    before = emulator.count("token_requests")
    result = cli.run("api", f"/orders/v0/orders/{shop[0]}/buyerInfo")
    assert result.returncode == ExitCode.API_ERROR_STATUS
    assert json.loads(result.stdout)["errors"][0]["code"] == "Unauthorized"
    assert "403 Forbidden: Unauthorized: Access to requested resource is denied." in (result.stderr)
    assert "--rdt" in result.stderr
    assert emulator.count("token_requests") == before
    # With a restricted data token (no data elements: the operation has none), it works.
    buyer = json.loads(cli.ok("api", "--rdt", "", f"/orders/v0/orders/{shop[0]}/buyerInfo").stdout)
    assert buyer["payload"]["BuyerEmail"] == "buyer0@marketplace.amazon.com"

"""The SP-API caller behind ``spconnect api``, in-process: requests built from flags,
next tokens, pacing, bounded retries and bounded answers, against the emulator and
against local servers that misbehave on purpose."""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from spconnect.amazon.lwa import LwaClient
from spconnect.emulator import Emulator
from spconnect.errors import AmazonUnavailable, UsageError
from spconnect.spapi.caller import Caller, RetryPolicy, next_page, next_token
from spconnect.spapi.pacing import Pacer, announced_rate
from spconnect.spapi.request import ApiRequest, build_request
from spconnect.spapi.usage_plans import documented_burst

US = "ATVPDKIKX0DER"


def no_files(name: str, what: str) -> bytes:
    raise AssertionError(f"{what} should not read {name}")


# -- requests from flags -------------------------------------------------------------


def test_fields_go_to_the_query_for_reads_and_to_a_json_body_for_writes() -> None:
    read = build_request(
        "/orders/v0/orders?MarketplaceIds=A,B",
        raw_fields=["CreatedAfter=2026-01-01"],
        typed_fields=["MaxResultsPerPage=5"],
        read_source=no_files,
    )
    assert (read.method, read.path, read.body) == ("GET", "/orders/v0/orders", None)
    assert read.query == (
        ("MarketplaceIds", "A,B"),
        ("CreatedAfter", "2026-01-01"),
        ("MaxResultsPerPage", "5"),
    )
    write = build_request(
        "/listings/2021-08-01/items/S/SKU",
        method="patch",
        raw_fields=["productType=SHIRT", "tags[]=a", "tags[]=b"],
        typed_fields=["attributes[count]=3", "attributes[gift]=true", "note=null"],
        headers=["x-amzn-idempotency: 1"],
        read_source=no_files,
    )
    assert write.method == "PATCH" and write.body is not None
    assert json.loads(write.body) == {
        "productType": "SHIRT",
        "tags": ["a", "b"],
        "attributes": {"count": 3, "gift": True},
        "note": None,
    }
    assert ("content-type", "application/json") in write.headers
    assert ("x-amzn-idempotency", "1") in write.headers


def test_input_body_makes_a_post_and_fields_then_go_to_the_query() -> None:
    request = build_request(
        "/feeds/2021-06-30/documents",
        raw_fields=["dryRun=1"],
        body=b'{"contentType": "text/xml"}',
        read_source=no_files,
    )
    assert request.method == "POST" and request.query == (("dryRun", "1"),)
    files = {"note.txt": b"from a file"}
    typed = build_request(
        "/x", method="POST", typed_fields=["note=@note.txt"], read_source=lambda n, w: files[n]
    )
    assert json.loads(typed.body or b"") == {"note": "from a file"}


@pytest.mark.parametrize(
    ("path", "flags", "said"),
    [
        ("https://evil.example/orders", {}, "must be a path"),
        ("//evil.example/orders", {}, "must be a path"),
        ("/orders v0", {}, "spaces or control"),
        ("/orders#x", {}, "fragment"),
        ("/x", {"method": "TRACE"}, "not an HTTP method"),
        ("/x", {"raw_fields": ["novalue"]}, "expected KEY=VALUE"),
        ("/x", {"raw_fields": ["a[]b=1"]}, "a key is NAME"),
        ("/x", {"method": "POST", "raw_fields": ["a[][b]=1"]}, "may only end a key"),
        ("/x", {"raw_fields": ["a[b]=1"]}, "nested keys make a JSON body"),
        ("/x", {"method": "POST", "raw_fields": ["a=1", "a[b]=2"]}, "already a value"),
        ("/x", {"method": "POST", "raw_fields": ["a[b]=1", "a=2"]}, "already an object"),
        ("/x", {"headers": ["x-amz-access-token: Atza|abc"]}, "not yours to set"),
        ("/x", {"headers": ["Host: evil.example"]}, "not yours to set"),
        ("/x", {"headers": ["no colon"]}, "expected 'Name: value'"),
    ],
)
def test_bad_flags_are_usage_errors_that_name_the_flag(
    path: str, flags: dict[str, object], said: str
) -> None:
    with pytest.raises(UsageError) as info:
        build_request(path, read_source=no_files, **flags)  # type: ignore[arg-type]
    assert said in str(info.value)
    assert "Atza|abc" not in str(info.value)


# -- next tokens and pacing ----------------------------------------------------------


def test_a_repeated_key_is_one_comma_list_in_the_query_and_an_array_in_a_body() -> None:
    read = build_request(
        "/orders/v0/orders?MarketplaceIds=A&CreatedAfter=2026-01-01",
        raw_fields=["MarketplaceIds=B", "MarketplaceIds=C", "OrderStatuses=Shipped"],
        read_source=no_files,
    )
    assert read.query == (
        ("MarketplaceIds", "A,B,C"),
        ("CreatedAfter", "2026-01-01"),
        ("OrderStatuses", "Shipped"),
    )
    write = build_request(
        "/x",
        method="POST",
        raw_fields=["marketplaceIds=A", "marketplaceIds=B", "marketplaceIds=C", "one=1"],
        read_source=no_files,
    )
    assert json.loads(write.body or b"") == {"marketplaceIds": ["A", "B", "C"], "one": "1"}


def test_next_token_is_found_where_each_api_puts_it() -> None:
    assert next_token({"payload": {"NextToken": "a"}}) == ("NextToken", "a")
    assert next_token({"payload": {"nextToken": "b"}}) == ("nextToken", "b")
    assert next_token({"nextToken": "c", "reports": []}) == ("nextToken", "c")
    assert next_token({"pagination": {"nextToken": "d"}, "items": []}) == (
        "pagination.nextToken",
        "d",
    )
    vendor = {"payload": {"pagination": {"nextToken": "v"}, "orders": []}}
    assert next_token(vendor) == ("payload.pagination.nextToken", "v")
    aplus = {"contentMetadataRecords": [], "nextPageToken": "p"}
    assert next_token(aplus) == ("nextPageToken", "p")
    services = {"payload": {"jobs": [], "nextPageToken": "s"}}
    assert next_token(services) == ("nextPageToken", "s")
    assert next_token({"payload": {"Orders": []}}) is None
    assert next_token({"payload": [{"marketplace": {}}]}) is None
    assert next_token(None) is None
    with pytest.raises(AmazonUnavailable):
        next_token({"nextToken": "x" * 20000})


def test_the_next_token_goes_back_as_each_operation_expects_it() -> None:
    def sent(request: ApiRequest, found_as: str) -> tuple[tuple[str, str], ...] | object:
        page = next_page(request, found_as, "T")
        return json.loads(page.body) if page.body else page.query

    get = ApiRequest("GET", "/orders/v0/orders", (("MarketplaceIds", US),))
    assert sent(get, "NextToken") == (("MarketplaceIds", US), ("NextToken", "T"))
    catalog = ApiRequest("GET", "/catalog/2022-04-01/items", (("keywords", "x"),))
    assert sent(catalog, "pagination.nextToken") == (("keywords", "x"), ("pageToken", "T"))
    kiosk = ApiRequest("GET", "/dataKiosk/2023-11-15/queries")
    assert sent(kiosk, "pagination.nextToken") == (("paginationToken", "T"),)
    named = ApiRequest("GET", "/catalog/2099-01-01/items", (("paginationToken", "old"),))
    assert sent(named, "pagination.nextToken") == (("paginationToken", "T"),)
    vendor = ApiRequest("GET", "/vendor/orders/v1/purchaseOrders")
    assert sent(vendor, "payload.pagination.nextToken") == (("nextToken", "T"),)
    search = ApiRequest("POST", "/x/search", body=b'{"filter": "a", "nextToken": "old"}')
    assert sent(search, "nextToken") == {"filter": "a", "nextToken": "T"}
    query = ApiRequest("POST", "/dataKiosk/2023-11-15/queries", body=b'{"query": "q"}')
    assert sent(query, "pagination.nextToken") == {"query": "q", "paginationToken": "T"}
    # getReports and getFeeds take the token as the only parameter.
    for path in ("/reports/2021-06-30/reports", "/feeds/2021-06-30/feeds"):
        filtered = ApiRequest("GET", path, (("reportTypes", "X"), ("pageSize", "2")))
        assert sent(filtered, "nextToken") == (("nextToken", "T"),)
    # nextPageToken: in the query string, as pageToken to A+ Content and getServiceJobs.
    aplus = ApiRequest("GET", "/aplus/2020-11-01/contentDocuments", (("marketplaceId", US),))
    assert sent(aplus, "nextPageToken") == (("marketplaceId", US), ("pageToken", "T"))
    jobs = ApiRequest("GET", "/service/v1/serviceJobs", (("marketplaceIds", US),))
    assert sent(jobs, "nextPageToken") == (("marketplaceIds", US), ("pageToken", "T"))
    wallet = ApiRequest("GET", "/finances/transfers/wallet/2024-03-01/transactions")
    assert sent(wallet, "nextPageToken") == (("nextPageToken", "T"),)
    capacity = ApiRequest(
        "POST", "/service/v1/serviceResources/R1/capacity/range", body=b'{"capacityTypes": []}'
    )
    page = next_page(capacity, "nextPageToken", "T")
    assert page.query == (("nextPageToken", "T"),) and page.body == capacity.body
    # Fulfillment Inbound v0: QueryType=NEXT_TOKEN, the token and the marketplace only.
    inbound = ApiRequest(
        "GET",
        "/fba/inbound/v0/shipments",
        (("QueryType", "SHIPMENT"), ("MarketplaceId", US), ("ShipmentStatusList", "WORKING")),
    )
    assert sent(inbound, "NextToken") == (
        ("QueryType", "NEXT_TOKEN"),
        ("MarketplaceId", US),
        ("NextToken", "T"),
    )


def test_a_post_search_is_paginated_through_its_body() -> None:
    """The CLI's --paginate against a stand-in for a POST search: each page's token comes
    back in the next request's body, every page is printed."""
    bodies: list[object] = []

    def search(handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        sent = json.loads(handler.rfile.read(length))
        bodies.append(sent)
        page = int(sent.get("nextToken", "0"))
        answer: dict[str, object] = {"items": [page]}
        if page < 2:
            answer["nextToken"] = str(page + 1)
        handler.reply(200, json.dumps(answer).encode())

    with local_server(search, method="POST") as url, Caller(caller_token, url) as caller:
        request = build_request(
            "/x/2024-01-01/search",
            method="POST",
            raw_fields=["filter=a"],
            read_source=no_files,
        )
        pages = [answer.document for answer in caller.pages(request)]
    assert pages == [
        {"items": [0], "nextToken": "1"},
        {"items": [1], "nextToken": "2"},
        {"items": [2]},
    ]
    assert bodies == [
        {"filter": "a"},
        {"filter": "a", "nextToken": "1"},
        {"filter": "a", "nextToken": "2"},
    ]


def test_pacer_spends_the_burst_then_keeps_to_the_announced_rate() -> None:
    now = [100.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    pacer = Pacer(burst=2, clock=lambda: now[0], sleep=sleep)
    assert pacer.wait_turn() == 0  # the bucket starts full
    pacer.learn(httpx.Headers({"x-amzn-RateLimit-Limit": "2"}))
    assert pacer.wait_turn() == 0  # the burst's second request
    assert pacer.wait_turn() == pytest.approx(0.51)  # then one per 1.02/2 s
    assert pacer.wait_turn() == pytest.approx(0.51)
    now[0] += 5  # idle: the bucket refills to the burst, no further
    assert [pacer.wait_turn() for _ in range(3)] == [0, 0, pytest.approx(0.51)]
    pacer.throttled()  # Amazon says empty: wait a whole refill
    assert pacer.wait_turn() == pytest.approx(0.51)

    assert announced_rate(httpx.Headers({"x-amzn-RateLimit-Limit": "nan"})) is None
    assert announced_rate(httpx.Headers({"x-amzn-RateLimit-Limit": "-1"})) is None
    pacer.learn(httpx.Headers({"x-amzn-RateLimit-Limit": "1e-9"}))
    assert pacer.interval == 600.0  # a rate nobody has is not believed


def test_the_refill_clock_starts_when_the_first_answer_arrives() -> None:
    """Amazon's bucket starts refilling when the first request reaches it, which may be
    late in a slow first exchange (connection set-up): counted from the send, every later
    request would be that much early."""
    now = [0.0]
    pacer = Pacer(1, clock=lambda: now[0], sleep=lambda s: None)
    pacer.wait_turn()  # the first request leaves at 0.0 ...
    now[0] = 0.5
    pacer.learn(httpx.Headers({"x-amzn-RateLimit-Limit": "1"}))  # ... its answer at 0.5
    now[0] = 1.1
    assert pacer.wait_needed() == pytest.approx(1.02 - 0.6)  # a refill counted from 0.5


def test_documented_bursts_by_operation() -> None:
    assert documented_burst("GET", "/orders/v0/orders") == 20
    assert documented_burst("GET", "/orders/v0/orders/123-456/orderItems") == 30
    assert documented_burst("GET", "/listings/2021-08-01/items/A1B2C3") == 5
    assert documented_burst("POST", "/orders/v0/orders") == 1  # not a documented operation
    assert documented_burst("GET", "/something/new") == 1


# -- against the emulator ------------------------------------------------------------


@pytest.fixture
def shop(emulator: Emulator) -> Iterator[tuple[Emulator, str]]:
    app = emulator.state.register_app("caller")
    account = emulator.state.add_account("Caller Shop")
    refresh_token = emulator.state.self_authorize(app.client_id, account.selling_partner_id)
    grant = LwaClient(emulator.token_url).refresh(
        client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh_token
    )
    emulator.state.add_orders(account.selling_partner_id, 5)
    emulator.state.set_rate_limit("getOrders", rate=100, burst=20)
    yield emulator, grant.access_token


ORDERS = ApiRequest(
    "GET",
    "/orders/v0/orders",
    (("MarketplaceIds", US), ("CreatedAfter", "2025-01-01"), ("MaxResultsPerPage", "2")),
)


def test_server_errors_are_retried_for_reads_then_exit_6(
    shop: tuple[Emulator, str],
) -> None:
    emulator, token = shop
    slept: list[float] = []
    with Caller(lambda: token, emulator.url, sleep=slept.append, jitter=lambda: 1.0) as caller:
        emulator.inject("status", times=2, status=503, endpoint="orders")
        assert caller.send(ORDERS).status == 200
        assert slept == [0.5, 1.0]  # exponential backoff (jitter pinned to its maximum)
        emulator.inject("status", times=10, status=500, endpoint="orders")
        with pytest.raises(AmazonUnavailable) as info:
            caller.send(ORDERS)
    assert "gave up after 5 attempt(s)" in info.value.message
    assert "InternalFailure" in info.value.message and "request id" in info.value.message
    assert info.value.exit_code == 6


def test_a_post_is_not_repeated_after_a_server_error(shop: tuple[Emulator, str]) -> None:
    emulator, token = shop
    before = emulator.count("createRestrictedDataToken")
    emulator.inject("status", times=1, status=503, endpoint="tokens")
    body = json.dumps({"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders"}]})
    post = ApiRequest("POST", "/tokens/2021-03-01/restrictedDataToken", body=body.encode())
    with Caller(lambda: token, emulator.url, sleep=lambda s: None) as caller:
        with pytest.raises(AmazonUnavailable) as info:
            caller.send(post)
        assert "not retried, since a POST may have taken effect" in info.value.message
        # Asking for an RDT twice does no harm, so that one is retried.
        emulator.inject("status", times=1, status=503, endpoint="tokens")
        assert caller.restricted_data_token("GET", "/orders/v0/orders", ["buyerInfo"])
    # Faulted answers never reach the Tokens API: one token was made.
    assert emulator.count("createRestrictedDataToken") == before + 1


def test_a_throttled_request_waits_for_a_refill_then_succeeds(
    shop: tuple[Emulator, str],
) -> None:
    emulator, token = shop
    emulator.state.set_rate_limit("getOrders", rate=2, burst=1)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    with Caller(lambda: token, emulator.url, sleep=sleep, jitter=lambda: 0.0) as caller:
        httpx.get(
            emulator.url + "/orders/v0/orders",
            params=dict(ORDERS.query),
            headers={"x-amz-access-token": token},
        )  # another program drains the bucket
        answer = caller.send(ORDERS)
    assert answer.status == 200
    # One refill at 2 per second (less 2%), counted from the 429.
    assert slept == [pytest.approx(0.51, abs=0.02)]
    assert emulator.count("getOrders:throttled") == 1


def test_get_reports_pages_are_asked_for_with_the_token_alone(
    shop: tuple[Emulator, str],
) -> None:
    """Against the emulator's getReports, which refuses a nextToken beside any filter."""
    emulator, token = shop
    account = next(a for a in emulator.state.accounts.values() if a.name == "Caller Shop")
    made = emulator.state.add_reports(account.selling_partner_id, 5)
    request = build_request(
        "/reports/2021-06-30/reports",
        raw_fields=["reportTypes=GET_MERCHANT_LISTINGS_ALL_DATA"],
        typed_fields=["pageSize=2"],
        read_source=no_files,
    )
    with Caller(lambda: token, emulator.url) as caller:
        pages = [answer.document for answer in caller.pages(request)]
    assert all(isinstance(page, dict) and "reports" in page for page in pages), pages
    seen = [r["reportId"] for page in pages if isinstance(page, dict) for r in page["reports"]]
    assert seen == [report["reportId"] for report in made]
    assert emulator.count("getReports") == 3


def test_a_restricted_data_token_is_renewed_before_it_expires(
    shop: tuple[Emulator, str],
) -> None:
    """An export longer than the RDT lives: a new one before expiresIn runs out, so that
    Amazon never refuses one. The caller's clock and the emulator's move together."""
    emulator, token = shop
    emulator.state.restricted_token_lifetime = 300
    ahead = [0.0]  # how far both clocks have been moved on

    def later(seconds: float) -> None:
        ahead[0] += seconds
        emulator.state.advance(seconds)

    def clock() -> float:  # monotonic, as the caller's deadlines are
        return time.monotonic() + ahead[0]

    with Caller(lambda: token, emulator.url, clock=clock, sleep=later) as caller:
        pages = caller.pages(ORDERS, data_elements=["buyerInfo"])  # 5 orders, 2 a page
        documents = [next(pages).document]
        for _ in range(2):
            later(290)  # past the renewal time (300 s less a quarter), within the lifetime
            documents.append(next(pages).document)
        assert next(pages, None) is None
    orders = [o for d in documents if isinstance(d, dict) for o in d["payload"]["Orders"]]
    assert len(orders) == 5 and all("BuyerEmail" in o["BuyerInfo"] for o in orders)
    assert emulator.count("createRestrictedDataToken") == 3
    # Every request was answered: none met an expired token.
    assert emulator.count("getOrders") == emulator.count("getOrders:ok") == 3


def test_pages_stop_when_a_token_comes_back() -> None:
    """A server that hands out the same next token forever does not loop the caller."""
    same = b'{"payload": {"NextToken": "same"}}'
    with local_server(lambda h: h.reply(200, same)) as url, Caller(caller_token, url) as caller:
        pages = caller.pages(ApiRequest("GET", "/loop"))
        assert next(pages).status == 200
        assert next(pages).status == 200
        with pytest.raises(AmazonUnavailable) as info:
            next(pages)
    assert "had sent before" in info.value.message


# -- bounded answers -----------------------------------------------------------------


def caller_token() -> str:
    return "Atza|test-token-for-a-local-server"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    behaviour: object = None

    def do_GET(self) -> None:
        self.behaviour(self)  # type: ignore[operator]

    def reply(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class local_server:
    def __init__(self, behaviour: object, method: str = "GET") -> None:
        handler = type(
            "Handler",
            (_Handler,),
            {"behaviour": staticmethod(behaviour), f"do_{method}": _Handler.do_GET},
        )
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_gzip_bomb_costs_no_more_than_the_cap() -> None:
    bomb = gzip.compress(b"0" * (64 * 1024 * 1024))  # 64 MiB inflated, 64 KiB sent
    with (
        local_server(lambda h: h.reply(200, bomb, Content_Encoding="gzip")) as url,
        Caller(caller_token, url) as caller,
        pytest.raises(AmazonUnavailable) as info,
    ):
        caller.send(ApiRequest("GET", "/bomb"))
    assert "longer than 32768 KiB" in info.value.message


def _trickle_body(handler: _Handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    for _ in range(1000):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.2)


def _trickle_headers(handler: _Handler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    for _ in range(200):
        handler.wfile.write(b"x")
        handler.wfile.flush()
        time.sleep(0.2)


@pytest.mark.parametrize("trickle", [_trickle_body, _trickle_headers], ids=["body", "headers"])
def test_a_trickling_answer_ends_at_the_deadline(trickle: object) -> None:
    """A byte at a time never trips a read timeout, in the body or in the headers (where
    only amazon/bounded.py's watchdog can cut it)."""

    def behaviour(handler: _Handler) -> None:
        with contextlib.suppress(OSError):  # the caller hung up: what the test wants
            trickle(handler)  # type: ignore[operator]

    policy = RetryPolicy(max_attempts=1, attempt_deadline=1.0, timeout=5.0)
    started = time.monotonic()
    with (
        local_server(behaviour) as url,
        Caller(caller_token, url, policy=policy) as caller,
        pytest.raises(AmazonUnavailable) as info,
    ):
        caller.send(ApiRequest("GET", "/slow"))
    assert time.monotonic() - started < 3
    assert "no complete answer within 1 s" in info.value.message


def test_an_answer_nested_too_deep_for_json_is_not_json_not_a_traceback() -> None:
    """A hostile or broken answer (it fits in a few KiB) that Python's JSON parser cannot
    descend into is treated as a body that is not JSON: printed as it came, no token."""
    from spconnect.api_command import _json_or_none
    from spconnect.spapi import caller
    from spconnect.spapi.answers import Answer

    deep = b"[" * 200_000 + b"]" * 200_000
    assert Answer(200, httpx.Headers(), deep, 0.0).document is None
    assert _json_or_none(deep) is None
    assert caller._json_object(b'{"a":' + deep + b"}") is None
    assert next_token(None) is None

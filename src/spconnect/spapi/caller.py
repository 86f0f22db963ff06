"""Sending ``spconnect api`` requests: the access token, pacing, bounded retries, pages
and restricted data tokens (amazon.md section 9; design, exit codes 4, 5, 6 and 9).

- Every attempt asks for the token again (``access_token``), so a long export keeps
  working across the hourly refresh. A restricted data token (RDT) replaces it when the
  call needs personal data (``data_elements``): obtained from the Tokens API for the
  request's method and path, held in memory only, and obtained again before it expires
  (``expiresIn`` of its answer, amazon.md section 9: RDT_RENEW_MARGIN early), so an
  export that runs longer than the RDT lives keeps going; an RDT Amazon refuses as
  expired or invalid is replaced once and the request repeated.
- An answer that refuses the access token itself (Amazon calls it revoked, malformed,
  invalid or expired: answers.refuses_token) renews it once (``renew_token``, a forced
  refresh) and repeats the request. Login with Amazon's verdict on that refresh is the
  verdict on the authorization: ``invalid_grant`` is exit 4 (the seller must authorize
  again), ``invalid_client`` exit 5 (the app's credentials). Any other 401/403 (a role the
  app lacks, personal data without an RDT, another region) is Amazon's answer: exit 9.
- Pacing follows the operation's usage plan (pacing.py). A 429 is retried after at least
  one refill; a 5xx or a broken connection is retried only where repeating the request
  cannot do a thing twice (GET, HEAD, PUT, DELETE, or a connection that never opened),
  with exponential backoff and full jitter. ``notify`` hears of each wait for a 429 (and
  of pacing waits of WAIT_WORTH_SAYING or more), for a person at a terminal.
- The bound: at most ``RetryPolicy.max_attempts`` (5) attempts per request, and no more
  waiting on retries than ``max_wait`` (120 s) or four refills of the operation's bucket,
  whichever is longer; then exit 6 with Amazon's words and the request id.
- Pages: the next page is the same request with the token Amazon returned (amazon.md
  section 9), as the operation expects it back: in the query string of a GET, in the JSON
  body of a POST search. ``NextToken``/``nextToken`` (in ``payload`` or at the top) go
  back under their own name; ``pagination.nextToken`` as ``pageToken`` (Catalog Items,
  Listings Items) or ``paginationToken`` (Data Kiosk, Fulfillment Inbound 2024-03-20 and
  the newer APIs), or under whichever of the two the request already names; the vendor
  APIs' ``payload.pagination.nextToken`` as ``nextToken``; ``nextPageToken`` in the query
  string, as ``pageToken`` where the operation names it so (A+ Content, getServiceJobs).
  Operations whose reference asks for the token alone (getReports, getFeeds) get nothing
  else in the next request; Fulfillment Inbound v0's shipment listings get
  ``QueryType=NEXT_TOKEN`` with it.
  A token seen before, or more than MAX_PAGES pages, stops the export with exit 6 rather
  than looping.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType

import httpx

from spconnect._version import user_agent
from spconnect.amazon import bounded, client_tls
from spconnect.errors import AmazonUnavailable, ApiErrorStatus, SpconnectError
from spconnect.redaction import one_line, register_secret
from spconnect.spapi.answers import (
    Answer,
    AnswerTooLarge,
    DeadlineExceeded,
    exchange,
    refuses_restricted_token,
    refuses_token,
)
from spconnect.spapi.pacing import Pacer
from spconnect.spapi.request import ApiRequest
from spconnect.spapi.usage_plans import documented_burst

log = logging.getLogger("spconnect.api")

RDT_PATH = "/tokens/2021-03-01/restrictedDataToken"
# 10,000 pages of 100 orders is a million orders; an answer that never stops giving new
# tokens is a fault, not an export.
MAX_PAGES = 10_000
# Amazon's next tokens are opaque strings of a few hundred bytes to a few kilobytes.
MAX_NEXT_TOKEN_LENGTH = 16 * 1024
MAX_RDT_LENGTH = 8192
# An RDT is obtained again this long before its expiresIn runs out (one attempt's deadline),
# or a quarter of its life before when it lives shorter than four margins.
RDT_RENEW_MARGIN = 60.0
# An expiresIn beyond a day is not believed: the RDT is then renewed only when refused.
MAX_RDT_LIFETIME = 86400
_RETRY_ON_FAILURE = ("GET", "HEAD", "PUT", "DELETE")  # idempotent (RFC 9110, 9.2.2)
# Waiting this long for the usage plan without a word would look like a hang.
WAIT_WORTH_SAYING = 5.0


@dataclass(frozen=True)
class _RestrictedToken:
    value: str = field(repr=False)
    renew_at: float  # on the caller's clock


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    # Seconds spent waiting on retries of one request; at least four refills of the
    # operation's bucket, since a 429 on a one-a-minute operation waits a minute.
    max_wait: float = 120.0
    attempt_deadline: float = 60.0  # one attempt, connection to last byte
    timeout: float = 30.0  # each network operation


class Caller:
    """Calls one profile's SP-API endpoint. Use as a context manager."""

    def __init__(
        self,
        access_token: Callable[[], str],
        endpoint: str,
        *,
        renew_token: Callable[[], object] | None = None,
        notify: Callable[[str], None] | None = None,
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._access_token = access_token
        self._renew_token = renew_token
        self._notify = notify
        self.endpoint = endpoint.rstrip("/")
        self.policy = policy or RetryPolicy()
        # No keep-alive: the bounded read's watchdog cuts each request's own connection.
        self._client = httpx.Client(
            transport=transport,
            follow_redirects=False,
            limits=bounded.NO_KEEPALIVE,
            verify=client_tls.context_for(self.endpoint),
        )
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._pacers: dict[str, Pacer] = {}
        self._restricted: dict[tuple[str, str, tuple[str, ...]], _RestrictedToken] = {}

    def __enter__(self) -> Caller:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._client.close()

    # -- one request ------------------------------------------------------------------

    def send(
        self,
        request: ApiRequest,
        *,
        data_elements: Sequence[str] | None = None,
        retry_failures: bool | None = None,
    ) -> Answer:
        """The answer to ``request``, after pacing and retries; any final status.

        ``data_elements``: send a restricted data token for this request's method and path
        with these data elements instead of the access token. ``retry_failures``: whether
        a 5xx or a broken connection may be retried (default: for idempotent methods only).
        """
        pacer = self._pacer(request)
        if retry_failures is None:
            retry_failures = request.method in _RETRY_ON_FAILURE
        elements = None if data_elements is None else tuple(data_elements)
        waited = 0.0
        renewed = False  # the token (access or restricted) is renewed once per request
        for attempt in range(1, self.policy.max_attempts + 1):
            coming = pacer.wait_needed()
            if coming >= WAIT_WORTH_SAYING and self._notify is not None:
                self._notify(
                    f"waiting {coming:.0f} s for the usage plan of {request.describe()} "
                    f"({pacer.rate_text()})"
                )
            paced = pacer.wait_turn()
            if attempt > 1:
                waited += paced
            if paced >= 0.05:
                log.info("waited %.2f s for the usage plan of %s", paced, request.path)
            headers = {
                "x-amz-access-token": (
                    self._access_token()
                    if elements is None
                    else self.held_restricted_data_token(request.method, request.path, elements)
                ),
                "user-agent": user_agent(),
                "accept": "application/json",
            }
            answer: Answer | None = None
            try:
                answer = exchange(
                    self._client,
                    self.endpoint,
                    request,
                    headers,
                    deadline=self._clock() + self.policy.attempt_deadline,
                    timeout=self.policy.timeout,
                )
            except AnswerTooLarge as exc:
                raise AmazonUnavailable(
                    f"the SP-API's answer to {request.describe()} is {exc}",
                    "narrow the request (fewer results per page, fewer included data sets)",
                ) from None
            except (DeadlineExceeded, httpx.TransportError) as exc:
                problem = _transport_problem(exc, self.policy)
                # A connection that never opened carried nothing: always safe to repeat.
                retryable = retry_failures or isinstance(exc, httpx.ConnectError)
            else:
                pacer.learn(answer.headers)
                log.info(
                    "%s %s -> %d in %.0f ms (request id %s, %s %s)",
                    request.method,
                    request.path,
                    answer.status,
                    answer.elapsed * 1000,
                    answer.request_id,
                    "x-amzn-RateLimit-Limit",
                    one_line(answer.headers.get("x-amzn-ratelimit-limit", "none"), 20),
                )
                if not renewed and attempt < self.policy.max_attempts:
                    if elements is not None and refuses_restricted_token(answer):
                        renewed = True
                        self._forget_restricted(request, answer, elements)
                        continue
                    if elements is None and refuses_token(answer):
                        renewed = True
                        self._renew(request, answer)
                        continue
                if answer.status != 429 and answer.status < 500:
                    return answer
                if answer.status == 429:
                    pacer.throttled()
                problem = f"{answer.summary()} (request id {answer.request_id})"
                retryable = answer.status == 429 or retry_failures
            delay = self._delay(attempt, answer, pacer)
            budget = max(self.policy.max_wait, 4 * (pacer.interval or 0))
            if not retryable or attempt == self.policy.max_attempts or waited + delay > budget:
                raise self._gave_up(request, problem, attempt, retryable)
            log.info("%s %s: %s; retrying", request.method, request.path, problem)
            if answer is not None and answer.status == 429 and self._notify is not None:
                self._notify(
                    f"{request.describe()}: throttled by Amazon (429); waiting "
                    f"{delay + pacer.wait_needed():.1f} s before attempt {attempt + 1} of "
                    f"{self.policy.max_attempts}"
                )
            if delay > 0:
                self._sleep(delay)
                waited += delay
        raise AssertionError("unreachable")  # the loop returns or raises

    def _renew(self, request: ApiRequest, answer: Answer) -> None:
        """Refresh the access token Amazon refused; LWA's refusal explains why."""
        refused = f"{answer.summary()} (request id {answer.request_id})"
        if self._renew_token is None:
            return
        log.info(
            "%s: the SP-API refused the access token: %s; renewing it", request.describe(), refused
        )
        try:
            self._renew_token()
        except SpconnectError as error:
            # AuthorizationRejected (4), ClientRejected (5), ...: the same class, with
            # what led to the refresh in front of Login with Amazon's answer.
            raise type(error)(
                f"the SP-API refused the access token for {request.describe()}: {refused}; "
                f"renewing it failed: {error.message}",
                error.hint,
            ) from None

    def _forget_restricted(
        self, request: ApiRequest, answer: Answer, elements: tuple[str, ...]
    ) -> None:
        """Amazon refused the RDT (expired on its clock, or invalid): the next attempt
        obtains a new one, whose own refusal, if any, is Amazon's answer."""
        log.info(
            "%s: the SP-API refused the restricted data token: %s (request id %s); "
            "obtaining a new one",
            request.describe(),
            answer.summary(),
            answer.request_id,
        )
        self._restricted.pop((request.method, request.path, elements), None)

    def _pacer(self, request: ApiRequest) -> Pacer:
        key = f"{request.method} {request.path}"  # one operation, roughly
        if key not in self._pacers:
            burst = documented_burst(request.method, request.path)
            self._pacers[key] = Pacer(burst, clock=self._clock, sleep=self._sleep)
        return self._pacers[key]

    def _delay(self, attempt: int, answer: Answer | None, pacer: Pacer) -> float:
        """Seconds to wait before the next attempt, besides the pacer's own wait."""
        backoff = min(self.policy.max_delay, self.policy.base_delay * 2.0 ** (attempt - 1))
        delay = backoff * self._jitter()  # full jitter
        if answer is not None and answer.status == 429:
            # The pacer waits for the refill once it knows the rate; else back off.
            retry_after = _retry_after(answer.headers)
            delay = retry_after if pacer.interval is not None else max(delay, retry_after)
        return delay

    def _gave_up(
        self, request: ApiRequest, problem: str, attempts: int, retryable: bool
    ) -> AmazonUnavailable:
        if retryable:
            said = f"{problem}; gave up after {attempts} attempt(s)"
        else:
            said = f"{problem}; not retried, since a {request.method} may have taken effect"
        return AmazonUnavailable(
            f"the SP-API failed {request.describe()}: {said}",
            "try again in a few minutes; if it persists, check the network and the region",
        )

    # -- restricted data tokens and pages ----------------------------------------------

    def held_restricted_data_token(self, method: str, path: str, elements: tuple[str, ...]) -> str:
        """The RDT held for ``method path`` and these elements, or a new one when none is
        held or the one held is due for renewal."""
        key = (method, path, elements)
        held = self._restricted.get(key)
        if held is None or self._clock() >= held.renew_at:
            if held is not None:
                log.info("the restricted data token for %s %s is due; renewing it", method, path)
            self.restricted_data_token(method, path, elements)
            held = self._restricted[key]
        return held.value

    def restricted_data_token(self, method: str, path: str, data_elements: Sequence[str]) -> str:
        """A new RDT for ``method path`` with these data elements (amazon.md section 9),
        held for this request's later pages and attempts until it is due for renewal."""
        resource: dict[str, object] = {"method": method, "path": path}
        if data_elements:
            resource["dataElements"] = list(data_elements)
        request = ApiRequest(
            "POST",
            RDT_PATH,
            body=json.dumps({"restrictedResources": [resource]}).encode(),
            headers=(("content-type", "application/json"),),
        )
        # Asking for a token twice does no harm: retried like a GET.
        asked_at = self._clock()
        answer = self.send(request, retry_failures=True)
        if not answer.ok:
            raise status_error(answer, f"the restricted data token for {method} {path}")
        body = answer.document
        rdt = body.get("restrictedDataToken") if isinstance(body, dict) else None
        if not isinstance(rdt, str) or not 0 < len(rdt) <= MAX_RDT_LENGTH:
            raise AmazonUnavailable(
                f"the Tokens API sent no usable restricted data token "
                f"(request id {answer.request_id})",
                "try again; report it if it persists",
            )
        register_secret(rdt)  # a secret like the access token, and of no known shape
        lifetime = body.get("expiresIn") if isinstance(body, dict) else None
        renew_at = float("inf")  # no lifetime given: renewed when Amazon refuses it
        if type(lifetime) is int and 0 < lifetime <= MAX_RDT_LIFETIME:
            # Counted from the request, which Amazon answered later: never late.
            renew_at = asked_at + lifetime - min(RDT_RENEW_MARGIN, lifetime / 4)
        self._restricted[(method, path, tuple(data_elements))] = _RestrictedToken(rdt, renew_at)
        log.info(
            "got a restricted data token for %s %s (%s), expiresIn %s",
            method,
            path,
            list(data_elements),
            one_line(str(lifetime), 20),
        )
        return rdt

    def pages(
        self, request: ApiRequest, *, data_elements: Sequence[str] | None = None
    ) -> Iterator[Answer]:
        """Each page's answer in turn; stops after the last page or an error status."""
        seen: set[bytes] = set()
        for _ in range(MAX_PAGES):
            answer = self.send(request, data_elements=data_elements)
            yield answer
            if not answer.ok:
                return
            found = next_token(answer.document)
            if found is None:
                return
            name, value = found
            digest = hashlib.sha256(value.encode()).digest()
            if digest in seen:
                raise AmazonUnavailable(
                    f"the SP-API sent a {name} it had sent before for {request.describe()} "
                    f"(request id {answer.request_id}); stopped rather than loop",
                    "the pages printed so far are complete; report it if it persists",
                )
            seen.add(digest)
            request = next_page(request, name, value)
        raise AmazonUnavailable(
            f"{request.describe()} has more than {MAX_PAGES} pages; stopped",
            "narrow the request (a shorter date range) and export it in parts",
        )


def next_token(body: object) -> tuple[str, str] | None:
    """(where the token was, token) for the next page, or None on the last page."""
    if not isinstance(body, dict):
        return None
    payload = body.get("payload")
    places: list[tuple[object, str, str]] = [
        (payload, "NextToken", "NextToken"),
        (payload, "nextToken", "nextToken"),
        (body, "NextToken", "NextToken"),
        (body, "nextToken", "nextToken"),
        (body.get("pagination"), "nextToken", "pagination.nextToken"),
        (payload.get("pagination") if isinstance(payload, dict) else None, "nextToken", _VENDOR),
        (payload, "nextPageToken", "nextPageToken"),
        (body, "nextPageToken", "nextPageToken"),
    ]
    for where, key, found_as in places:
        value = where.get(key) if isinstance(where, dict) else None
        if isinstance(value, str) and value:
            if len(value) > MAX_NEXT_TOKEN_LENGTH or not value.isprintable():
                raise AmazonUnavailable(
                    f"the SP-API sent a {key} spconnect cannot send back ({len(value)} characters)",
                    "the pages printed so far are complete; report it if it persists",
                )
            return found_as, value
    return None


_VENDOR = "payload.pagination.nextToken"
# APIs that take pagination.nextToken back as pageToken; the newer ones (Data Kiosk,
# Fulfillment Inbound 2024-03-20, ...) call it paginationToken.
_PAGE_TOKEN_APIS = ("/catalog/", "/listings/")
# GET operations whose next page takes the token as the only parameter. The references of
# getReports and getFeeds (Reports and Feeds APIs 2021-06-30, and their 2020-09-04
# versions), as published in amzn-sp-api 1.13.0: "To get the next page of results, call
# the getReports operation and include this token as the only parameter. Specifying
# nextToken with any other parameters will cause the request to fail."
_TOKEN_ALONE = (
    "/reports/2021-06-30/reports",
    "/feeds/2021-06-30/feeds",
    "/reports/2020-09-04/reports",
    "/feeds/2020-09-04/feeds",
)


# nextPageToken (A+ Content, Seller Wallet, Supply Sources, Services) always goes back in
# the query string, POSTs included (Services' slot capacity searches): as pageToken to A+
# Content and Services' getServiceJobs, under its own name to the others. Their
# parameters as published in amzn-sp-api 1.13.0 (apluscontent_v2020_11_01,
# seller_wallet_2024_03_01, supply_sources_v2020_07_01, services_v1).
_NEXT_PAGE_AS_PAGE_TOKEN = ("/aplus/",)
_SERVICE_JOBS = "/service/v1/serviceJobs"
# Fulfillment Inbound v0's getShipments and getShipmentItems select by QueryType, one of
# which is "by using NextToken to continue returning items specified in a previous
# request" (their QueryType parameter, amzn-sp-api 1.13.0, fulfillment_inbound_v0): the
# next page is QueryType=NEXT_TOKEN with the token and the required MarketplaceId, the
# token standing for the rest of the selection.
_QUERY_TYPE_NEXT_TOKEN = ("/fba/inbound/v0/shipments", "/fba/inbound/v0/shipmentItems")


def next_page(request: ApiRequest, found_as: str, token: str) -> ApiRequest:
    """The request for the page after ``request``'s, given its answer's next token."""
    if found_as == "nextPageToken":
        as_page_token = request.path.startswith(_NEXT_PAGE_AS_PAGE_TOKEN) or (
            request.path == _SERVICE_JOBS
        )
        return request.with_query("pageToken" if as_page_token else "nextPageToken", token)
    if request.method == "GET" and request.path in _QUERY_TYPE_NEXT_TOKEN:
        marketplace = tuple((k, v) for k, v in request.query if k == "MarketplaceId")
        return replace(
            request, query=(("QueryType", "NEXT_TOKEN"), *marketplace, ("NextToken", token))
        )
    body = _json_object(request.body)
    if found_as == _VENDOR:
        name = "nextToken"
    elif found_as != "pagination.nextToken":
        name = found_as
    else:
        named = {k for k, _ in request.query} | set(body or ())
        name = next(
            (n for n in ("pageToken", "paginationToken") if n in named),
            "pageToken" if request.path.startswith(_PAGE_TOKEN_APIS) else "paginationToken",
        )
    if body is not None and request.method not in ("GET", "HEAD", "DELETE"):
        # A POST search takes its next token in the body it was sent with.
        return replace(request, body=json.dumps({**body, name: token}).encode())
    if request.method == "GET" and request.path in _TOKEN_ALONE:
        return replace(request, query=((name, token),))
    return request.with_query(name, token)


def _json_object(body: bytes | None) -> dict[str, object] | None:
    try:
        document = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        return None
    return document if isinstance(document, dict) else None


def status_error(answer: Answer, what: str) -> ApiErrorStatus:
    """Exit 9: Amazon's summary and request id; the body goes to stdout."""
    hints = {
        400: "check the parameters against the operation's reference on "
        "developer-docs.amazon.com/sp-api",
        403: "the app may lack the role this operation needs, the profile's region may not "
        "be the account's, or personal data may need --rdt ELEMENTS; after a role is added "
        "to the app the seller must authorize again (spconnect reauth)",
        404: "check the PATH and the API version in it",
    }
    return ApiErrorStatus(
        f"the SP-API answered {what} with {answer.summary()} (request id {answer.request_id})",
        hints.get(answer.status, hints[403] if answer.status == 401 else None),
        body=answer.body,
        head=answer.head(),
    )


def _transport_problem(exc: Exception, policy: RetryPolicy) -> str:
    if isinstance(exc, DeadlineExceeded):
        return f"no complete answer within {policy.attempt_deadline:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {policy.timeout:g} s"
    return one_line(f"{type(exc).__name__}: {exc}", 200)


def _retry_after(headers: httpx.Headers) -> float:
    value = headers.get("retry-after", "").strip()
    # Seconds only; capped like the pacing interval (pacing.py).
    return min(float(value), 600.0) if value.isdigit() else 0.0

"""What the emulated Amazon knows: apps, seller accounts, codes and tokens, counters and
injected faults. Thread-safe: the HTTP server answers each request on its own thread."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

CODE_LIFETIME_SECONDS = 300  # amazon.md section 1: the authorization code lives 5 minutes


def _token(prefix: str) -> str:
    # Real tokens are long, URL-unsafe ('|') strings; mimic the shape, not the content.
    return prefix + secrets.token_urlsafe(96)


@dataclass
class EmulatedApp:
    name: str
    client_id: str
    client_secret: str
    app_id: str
    redirect_uris: list[str]
    login_uri: str | None = None
    draft: bool = True
    kind: str = "seller"  # or "vendor"
    old_secrets: list[str] = field(default_factory=list)  # still valid after a rotation


@dataclass
class Account:
    selling_partner_id: str
    name: str
    region: str
    marketplace_ids: list[str]
    vendor: bool = False


@dataclass
class Grant:
    client_id: str
    selling_partner_id: str | None
    revoked: bool = False


@dataclass
class Code:
    client_id: str
    redirect_uri: str
    selling_partner_id: str
    issued_at: float
    used: bool = False


@dataclass
class AmazonState:
    """An ``amazon_state`` the emulator sent to a Login URI (amazon.md section 3)."""

    client_id: str
    issued_at: float
    # Re-Authorize renews one account's authorization: the consent page offers that one.
    selling_partner_id: str | None = None


@dataclass
class Fault:
    """A failure to inject into the next ``times`` answers of ``endpoint`` ("token" for
    LWA, "sellers" for the Sellers API).

    kind: "status" (answer ``status`` with an error in the endpoint's JSON format:
    ``error``/``description`` when given, and with ``echo_request`` the request's secrets
    URL-encoded in the description, as some gateways echo what they were sent),
    "rate_limit" (429 with ``retry_after``), "slow" (sleep ``delay`` then answer normally),
    "html" (answer ``status`` with an HTML page, ``body`` or a default one, as a proxy or
    load balancer would), "drop" (close the connection without an answer), "grant" (a
    successful token answer changed by ``patch``: a key set to None is removed).
    """

    kind: str
    times: int = 1
    status: int = 503
    retry_after: float | None = None
    delay: float = 0.0
    endpoint: str = "token"
    error: str | None = None
    description: str | None = None
    echo_request: bool = False
    body: str | None = None
    patch: dict[str, object] | None = None


class EmulatorState:
    def __init__(self, access_token_lifetime: int = 3600) -> None:
        self.lock = threading.RLock()
        self.access_token_lifetime = access_token_lifetime
        self.apps: dict[str, EmulatedApp] = {}  # by client id
        self.accounts: dict[str, Account] = {}  # by selling partner id
        self.refresh_tokens: dict[str, Grant] = {}
        self.access_tokens: dict[str, tuple[Grant, float, str | None]] = {}  # grant, exp, scope
        self.codes: dict[str, Code] = {}
        self.faults: list[Fault] = []
        self.counts: Counter[str] = Counter()  # by grant type / endpoint
        self.clock_offset = 0.0
        # Consent pages: Login-URI hop states, auto-approval, callback URI style.
        self.amazon_states: dict[str, AmazonState] = {}
        self.auto_approve: str | None = None  # a selling partner id to approve at once
        self.relative_callback_uri = True  # amazon_callback_uri as seen in the wild
        # Sellers API: per-account token buckets, accounts whose app lacks the role,
        # marketplaces with suspended listings.
        self.sellers_burst = 15
        self.sellers_buckets: dict[str, tuple[float, float]] = {}
        self.sellers_denied: set[str] = set()
        self.suspended_listings: set[str] = set()
        # Orders and Tokens APIs (emulator/orders.py, emulator/rdt.py): usage plans and
        # their buckets (emulator/throttle.py), each account's orders, the NextTokens
        # handed out, and restricted data tokens with what they unlock.
        self.rate_limits: dict[str, tuple[float, float]] = {}  # operation -> rate, burst
        self.spapi_buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self.orders: dict[str, list[dict[str, object]]] = {}  # by selling partner id
        self.order_pages: dict[str, tuple[str, dict[str, str], int]] = {}  # NextToken ->
        self.restricted_tokens: dict[str, RestrictedToken] = {}
        self.restricted_token_lifetime = 3600  # seconds, the RDT answer's expiresIn
        # Reports API (emulator/reports.py): each account's reports, the nextTokens handed out.
        self.reports: dict[str, list[dict[str, object]]] = {}  # by selling partner id
        self.report_pages: dict[str, tuple[str, dict[str, str], int]] = {}  # nextToken ->

    # -- clock ---------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock forward (code expiry, token expiry)."""
        with self.lock:
            self.clock_offset += seconds

    # -- registration --------------------------------------------------------------------

    def register_app(
        self,
        name: str = "demo",
        *,
        redirect_uris: list[str] | None = None,
        login_uri: str | None = None,
        draft: bool = True,
        kind: str = "seller",
    ) -> EmulatedApp:
        app = EmulatedApp(
            name=name,
            client_id="amzn1.application-oa2-client." + secrets.token_hex(16),
            client_secret="amzn1.oa2-cs.v1." + secrets.token_hex(32),
            app_id=f"amzn1.sp.solution.{_uuid()}",
            redirect_uris=redirect_uris or ["https://example.com/spconnect/callback"],
            login_uri=login_uri,
            draft=draft,
            kind=kind,
        )
        with self.lock:
            self.apps[app.client_id] = app
        return app

    def add_account(
        self,
        name: str,
        *,
        region: str = "na",
        marketplace_ids: list[str] | None = None,
        selling_partner_id: str | None = None,
        vendor: bool = False,
    ) -> Account:
        # amazon.md section 1: sellers' ids are upper-case alphanumerics (A3FHEXAMPLEYWS);
        # vendors' are vendor groups, amzn1.vg.<digits>.
        if selling_partner_id is not None:
            sp_id = selling_partner_id
        elif vendor:
            sp_id = f"amzn1.vg.{secrets.randbelow(9 * 10**9) + 10**9}"
        else:
            sp_id = "A" + secrets.token_hex(7).upper()[:13]
        account = Account(
            selling_partner_id=sp_id,
            name=name,
            region=region,
            marketplace_ids=marketplace_ids or ["ATVPDKIKX0DER"],
            vendor=vendor,
        )
        with self.lock:
            self.accounts[sp_id] = account
        return account

    def rotate_secret(self, client_id: str) -> str:
        """A new client secret; the old one keeps working, as after Amazon's rotation."""
        with self.lock:
            app = self.apps[client_id]
            app.old_secrets.append(app.client_secret)
            app.client_secret = "amzn1.oa2-cs.v1." + secrets.token_hex(32)
            return app.client_secret

    def expire_old_secrets(self, client_id: str) -> None:
        with self.lock:
            self.apps[client_id].old_secrets.clear()

    # -- authorizations ------------------------------------------------------------------

    def self_authorize(self, client_id: str, selling_partner_id: str | None = None) -> str:
        """A refresh token as Seller Central's "Authorize app" shows it (amazon.md 8)."""
        token = _token("Atzr|")
        with self.lock:
            self.refresh_tokens[token] = Grant(client_id, selling_partner_id)
        return token

    def issue_code(self, client_id: str, redirect_uri: str, selling_partner_id: str) -> str:
        code = "AN" + secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = Code(client_id, redirect_uri, selling_partner_id, self.now())
        return code

    def revoke(
        self,
        refresh_token: str | None = None,
        *,
        client_id: str | None = None,
        selling_partner_id: str | None = None,
    ) -> int:
        """Revoke one refresh token, or every one of an app/account pair. Returns count."""
        count = 0
        with self.lock:
            for token, grant in self.refresh_tokens.items():
                if (refresh_token is not None and token == refresh_token) or (
                    refresh_token is None
                    and grant.client_id == client_id
                    and grant.selling_partner_id == selling_partner_id
                ):
                    grant.revoked = True
                    count += 1
        return count

    def authorizations(self) -> list[tuple[EmulatedApp, Account]]:
        """Each (app, account) pair with a live authorization: what Manage Your Apps
        lists (self-authorizations included, as amazon.md section 6 says it shows them)."""
        with self.lock:
            pairs = {
                (grant.client_id, grant.selling_partner_id)
                for grant in self.refresh_tokens.values()
                if not grant.revoked and grant.selling_partner_id
            }
            return sorted(
                (
                    (self.apps[client_id], self.accounts[sp_id])
                    for client_id, sp_id in pairs
                    if client_id in self.apps and sp_id in self.accounts
                ),
                key=lambda pair: (pair[1].name, pair[0].name),
            )

    # -- faults and counters -------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def take_fault(self, endpoint: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.endpoint == endpoint and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def count(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1

    # -- Orders and Tokens APIs ------------------------------------------------------------

    def set_rate_limit(self, operation: str, rate: float, burst: float) -> None:
        """Change an operation's usage plan (emulator/throttle.py); buckets start full."""
        with self.lock:
            self.rate_limits[operation] = (rate, burst)
            for key in [k for k in self.spapi_buckets if k[0] == operation]:
                del self.spapi_buckets[key]

    def add_orders(
        self,
        selling_partner_id: str,
        count: int,
        *,
        marketplace_id: str = "ATVPDKIKX0DER",
        first_purchase: str = "2026-01-01T00:00:00Z",
    ) -> list[dict[str, object]]:
        """``count`` orders for an account, bought a minute apart from ``first_purchase``."""
        import datetime as dt

        start = dt.datetime.fromisoformat(first_purchase.replace("Z", "+00:00"))
        with self.lock:
            orders = self.orders.setdefault(selling_partner_id, [])
            added = []
            for _ in range(count):
                n = len(orders)
                when = (start + dt.timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
                order: dict[str, object] = {
                    "AmazonOrderId": f"{100 + n % 900:03d}-{n:07d}-{secrets.randbelow(10**7):07d}",
                    "PurchaseDate": when,
                    "LastUpdateDate": when,
                    "OrderStatus": "Unshipped",
                    "FulfillmentChannel": "MFN",
                    "SalesChannel": "Amazon.com",
                    "OrderTotal": {"CurrencyCode": "USD", "Amount": f"{10 + n % 90}.99"},
                    "NumberOfItemsShipped": 0,
                    "NumberOfItemsUnshipped": 1,
                    "MarketplaceId": marketplace_id,
                    # Personal data: returned only with a restricted data token.
                    "_pii": {
                        "buyerInfo": {
                            "BuyerEmail": f"buyer{n}@marketplace.amazon.com",
                            "BuyerName": f"Buyer {n}",
                        },
                        "shippingAddress": {
                            "Name": f"Buyer {n}",
                            "AddressLine1": f"{n + 1} Main Street",
                            "City": "Seattle",
                            "StateOrRegion": "WA",
                            "PostalCode": "98101",
                            "CountryCode": "US",
                        },
                    },
                }
                orders.append(order)
                added.append(order)
            return added

    def add_reports(
        self,
        selling_partner_id: str,
        count: int,
        *,
        report_type: str = "GET_MERCHANT_LISTINGS_ALL_DATA",
        marketplace_id: str = "ATVPDKIKX0DER",
        status: str = "DONE",
    ) -> list[dict[str, object]]:
        """``count`` reports for an account, created a minute apart until now."""
        import datetime as dt

        def when(t: float) -> str:
            return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

        with self.lock:
            reports = self.reports.setdefault(selling_partner_id, [])
            now = self.now()
            added = []
            for i in range(count):
                created = now - 60 * (count - i)
                report: dict[str, object] = {
                    "reportId": str(50_000_000_000 + len(reports)),
                    "reportType": report_type,
                    "dataStartTime": when(created - 86400),
                    "dataEndTime": when(created),
                    "createdTime": when(created),
                    "processingStatus": status,
                    "marketplaceIds": [marketplace_id],
                }
                if status in ("IN_PROGRESS", "DONE"):
                    report["processingStartTime"] = when(created + 1)
                if status == "DONE":
                    report["processingEndTime"] = when(created + 30)
                    report["reportDocumentId"] = f"amzn1.spdoc.1.4.na.{_uuid()}"
                reports.append(report)
                added.append(report)
            return added


@dataclass
class RestrictedToken:
    """A restricted data token (amazon.md section 9): what it was issued for, until when."""

    grant: Grant
    expires_at: float
    resources: list[tuple[str, str, frozenset[str]]]  # method, path, data elements


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())

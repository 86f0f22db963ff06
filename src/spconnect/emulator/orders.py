"""The emulated Orders API v0 (amazon.md section 9): ``GET /orders/v0/orders``
(getOrders, paginated with ``NextToken``), ``GET /orders/v0/orders/{orderId}`` (getOrder),
``.../{orderId}/address`` (getOrderAddress) and ``.../{orderId}/buyerInfo``
(getOrderBuyerInfo), in the shapes of Amazon's ordersV0 model.

As Amazon does: ``MarketplaceIds`` and exactly one of ``CreatedAfter`` and
``LastUpdatedAfter`` are required (``CreatedBefore``/``LastUpdatedBefore`` may close the
range); pages hold ``MaxResultsPerPage`` orders (1 to 100, default 100); the next page is
the same request with ``NextToken``; personal data (``BuyerInfo``, the full
``ShippingAddress``) comes only with a restricted data token that names those data
elements, and getOrderAddress and getOrderBuyerInfo answer only to a restricted data
token issued for them (emulator/rdt.py); each operation has its usage plan
(emulator/throttle.py).
"""

from __future__ import annotations

import datetime as dt
import secrets

from spconnect.emulator import rdt, throttle
from spconnect.emulator.sellers import Answer
from spconnect.emulator.state import Account, EmulatorState

PREFIX = "/orders/v0/orders"
_MAX_PAGE = 100


# Restricted operations without data elements: only a restricted data token may call them.
_RDT_ONLY = {"address": "getOrderAddress", "buyerInfo": "getOrderBuyerInfo"}


def handles(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def operation(path: str) -> str | None:
    """The operation ``GET path`` calls, or None when there is none."""
    if path == PREFIX:
        return "getOrders"
    order_id, _, rest = path[len(PREFIX) + 1 :].partition("/")
    if not order_id:
        return None
    return "getOrder" if not rest else _RDT_ONLY.get(rest)


def get(state: EmulatorState, path: str, params: dict[str, str], token: str) -> Answer:
    name = operation(path)
    if name is None:
        return rdt.error(404, "NotFound", "The requested resource was not found.")
    state.count(name)
    with state.lock:
        who = rdt.caller(state, token, "GET", path)
        if isinstance(who, Answer):
            return who
        account, unlocked = who
        if name in _RDT_ONLY.values() and token not in state.restricted_tokens:
            # Amazon's generic refusal: nothing in it says an RDT is what is missing.
            return rdt.denied("")
        quota = throttle.take(state, name, account.selling_partner_id)
        if not quota.allowed:
            return throttle.quota_exceeded(quota)
        if name == "getOrders":
            answer = _get_orders(state, account, params, unlocked)
        else:
            answer = _get_order(state, account, path[len(PREFIX) + 1 :], unlocked)
        answer.headers.update(quota.header)
        return answer


def _get_order(
    state: EmulatorState, account: Account, order_path: str, unlocked: frozenset[str]
) -> Answer:
    """getOrder, getOrderAddress or getOrderBuyerInfo for ``{orderId}[/part]``."""
    order_id, _, part = order_path.partition("/")
    for order in state.orders.get(account.selling_partner_id, []):
        if order["AmazonOrderId"] != order_id:
            continue
        pii = order["_pii"]
        assert isinstance(pii, dict)
        if part == "address":
            payload = {"AmazonOrderId": order_id, "ShippingAddress": pii["shippingAddress"]}
        elif part == "buyerInfo":
            payload = {"AmazonOrderId": order_id, **pii["buyerInfo"]}
        else:
            payload = _shown(order, unlocked)
        return Answer(200, {"payload": payload}, {})
    return rdt.error(404, "NotFound", f"Order {order_id} was not found.")


def _get_orders(
    state: EmulatorState, account: Account, params: dict[str, str], unlocked: frozenset[str]
) -> Answer:
    marketplaces = [m for m in params.get("MarketplaceIds", "").split(",") if m]
    if not marketplaces:
        return rdt.error(400, "InvalidInput", "MarketplaceIds is required.")
    next_token = params.get("NextToken")
    if next_token:
        page = state.order_pages.get(next_token)
        if page is None or page[0] != account.selling_partner_id:
            return rdt.error(400, "InvalidInput", "Invalid NextToken.")
        _, query, offset = page
    else:
        created, updated = params.get("CreatedAfter"), params.get("LastUpdatedAfter")
        if (created is None) == (updated is None):
            return rdt.error(
                400, "InvalidInput", "Exactly one of CreatedAfter and LastUpdatedAfter is required."
            )
        before_name = "CreatedBefore" if created else "LastUpdatedBefore"
        since = parse_timestamp(created or updated or "")
        until_text = params.get(before_name)
        until = parse_timestamp(until_text) if until_text is not None else None
        size = params.get("MaxResultsPerPage", str(_MAX_PAGE))
        if since is None or (until_text is not None and until is None):
            return rdt.error(400, "InvalidInput", "Dates must be in ISO 8601 format.")
        if not size.isdigit() or not 1 <= int(size) <= _MAX_PAGE:
            return rdt.error(400, "InvalidInput", "MaxResultsPerPage must be 1 to 100.")
        query = {
            "marketplaces": ",".join(marketplaces),
            "field": "PurchaseDate" if created else "LastUpdateDate",
            "since": since.isoformat(),
            "until": until.isoformat() if until else "",
            "size": size,
        }
        offset = 0
    wanted = set(query["marketplaces"].split(","))
    since = dt.datetime.fromisoformat(query["since"])
    until = dt.datetime.fromisoformat(query["until"]) if query["until"] else None

    def matches(order: dict[str, object]) -> bool:
        when = parse_timestamp(str(order[query["field"]]))
        assert when is not None
        return (
            order["MarketplaceId"] in wanted and when >= since and (until is None or when < until)
        )

    matching = [
        order for order in state.orders.get(account.selling_partner_id, []) if matches(order)
    ]
    end = offset + int(query["size"])
    payload: dict[str, object] = {
        "Orders": [_shown(order, unlocked) for order in matching[offset:end]],
        "CreatedBefore": dt.datetime.fromtimestamp(state.now(), dt.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
    }
    if end < len(matching):
        token = secrets.token_urlsafe(48)  # opaque, as Amazon's are
        state.order_pages[token] = (account.selling_partner_id, query, end)
        payload["NextToken"] = token
    return Answer(200, {"payload": payload}, {})


def parse_timestamp(value: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _shown(order: dict[str, object], unlocked: frozenset[str]) -> dict[str, object]:
    """The order as this caller may see it: personal data only where the RDT allows."""
    pii = order["_pii"]
    assert isinstance(pii, dict)
    shown = {k: v for k, v in order.items() if k != "_pii"}
    address = pii["shippingAddress"]
    shown["ShippingAddress"] = (
        address
        if "shippingAddress" in unlocked
        else {k: address[k] for k in ("City", "StateOrRegion", "PostalCode", "CountryCode")}
    )
    if "buyerInfo" in unlocked:
        shown["BuyerInfo"] = pii["buyerInfo"]
    return shown

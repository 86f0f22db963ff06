"""The documented burst of the SP-API operations that return pages (amazon.md section 9:
each operation has its own rate and burst).

Amazon announces an operation's rate in ``x-amzn-RateLimit-Limit`` but not its burst,
which pacing.py needs to spend the burst before settling on the rate. These are the
default usage plans from the operations' references, as published in Amazon's Python SDK
(amzn-sp-api 1.13.0, "Usage Plan" of each operation). A seller may have a larger plan;
then spconnect is merely cautious. Operations not listed count as a burst of 1.
"""

from __future__ import annotations

# (method, path template, burst); the rates are only for the reader, the header wins.
_DOCUMENTED: tuple[tuple[str, str, int], ...] = (
    ("GET", "/orders/v0/orders", 20),  # getOrders, 0.0167/s
    ("GET", "/orders/2026-01-01/orders", 20),  # searchOrders, 0.0056/s
    ("GET", "/orders/v0/orders/{orderId}", 30),  # getOrder, 0.5/s
    ("GET", "/orders/v0/orders/{orderId}/orderItems", 30),  # getOrderItems, 0.5/s
    ("GET", "/orders/v0/orders/{orderId}/orderItems/buyerInfo", 30),  # 0.5/s
    ("GET", "/orders/v0/orders/{orderId}/address", 30),  # getOrderAddress, 0.5/s
    ("GET", "/orders/v0/orders/{orderId}/buyerInfo", 30),  # getOrderBuyerInfo, 0.5/s
    ("GET", "/reports/2021-06-30/reports", 10),  # getReports, 0.0222/s
    ("GET", "/feeds/2021-06-30/feeds", 10),  # getFeeds, 0.0222/s
    ("GET", "/dataKiosk/2023-11-15/queries", 10),  # getQueries, 0.0222/s
    ("GET", "/finances/v0/financialEvents", 30),  # listFinancialEvents, 0.5/s
    ("GET", "/finances/v0/financialEventGroups", 30),  # 0.5/s
    ("GET", "/finances/v0/financialEventGroups/{eventGroupId}/financialEvents", 30),
    ("GET", "/finances/v0/orders/{orderId}/financialEvents", 30),  # 0.5/s
    ("GET", "/finances/2024-06-19/transactions", 10),  # listTransactions, 0.5/s
    ("GET", "/catalog/2022-04-01/items", 2),  # searchCatalogItems, 2/s
    ("GET", "/listings/2021-08-01/items/{sellerId}", 5),  # searchListingsItems, 5/s
    ("GET", "/fba/inventory/v1/summaries", 2),  # getInventorySummaries, 2/s
    ("GET", "/fba/inbound/v0/shipments", 30),  # getShipments, 2/s
    ("GET", "/fba/inbound/v0/shipmentItems", 30),  # getShipmentItems, 2/s
    ("GET", "/fba/outbound/2020-07-01/fulfillmentOrders", 30),  # 2/s
    ("GET", "/notifications/v1/subscriptions", 5),  # 1/s
    ("GET", "/vendor/orders/v1/purchaseOrders", 10),  # getPurchaseOrders, 10/s
    ("GET", "/vendor/orders/v1/purchaseOrdersStatus", 10),  # 10/s
    ("GET", "/vendor/directFulfillment/orders/2021-12-28/purchaseOrders", 10),  # 10/s
    ("GET", "/vendor/shipping/v1/shipments", 10),  # 10/s
    ("POST", "/tokens/2021-03-01/restrictedDataToken", 10),  # createRestrictedDataToken, 1/s
)


def documented_burst(method: str, path: str) -> int:
    """The operation's documented burst, or 1 when spconnect does not know it."""
    for known_method, template, burst in _DOCUMENTED:
        if known_method == method and matches_template(template, path):
            return burst
    return 1


def matches_template(template: str, path: str) -> bool:
    """Whether ``path`` is an instance of ``template``, where ``{name}`` stands for any one
    path segment (compared segment by segment: no regular expressions to compile on the
    way to every ``spconnect api`` call)."""
    wanted, given = template.split("/"), path.split("/")
    return len(wanted) == len(given) and all(
        w == g or (w.startswith("{") and w.endswith("}") and g != "")
        for w, g in zip(wanted, given, strict=True)
    )

"""Other SP-API libraries with spconnect's tokens (spconnect.integrations).

Each adapter is imported only here, when used; the libraries get access tokens (and
restricted data tokens) from spconnect and never see the refresh token or client secret.
Install the library you use: pip install python-amazon-sp-api / amzn-sp-api / requests.
"""

import requests
from sp_api.api import Orders
from spapi import OrdersV0Api

from spconnect import access_token
from spconnect.integrations.amzn_sp_api import api_client, restricted_api_client
from spconnect.integrations.requests_auth import SPAPIAuth
from spconnect.integrations.sp_api import connect

US = "ATVPDKIKX0DER"

# python-amazon-sp-api: any client class, with the profile's endpoint and marketplace.
orders = connect(Orders, "default")
for order in orders.get_orders(CreatedAfter="2026-01-01T00:00:00Z").payload["Orders"]:
    print(order["AmazonOrderId"], order["OrderStatus"])
# Its own restricted-data flow works too (a token from the Tokens API, then the call):
orders.get_orders(CreatedAfter="2026-01-01T00:00:00Z", RestrictedResources=["buyerInfo"])

# Amazon's SDK (amzn-sp-api).
sdk_orders = OrdersV0Api(api_client("default"))
print(len(sdk_orders.get_orders(marketplace_ids=[US], created_after="2026-01-01").payload.orders))
private = OrdersV0Api(restricted_api_client("default", "GET", "/orders/v0/orders", ["buyerInfo"]))
private.get_orders(marketplace_ids=[US], created_after="2026-01-01")

# requests.
endpoint = access_token("default").endpoint
response = requests.get(
    f"{endpoint}/sellers/v1/marketplaceParticipations", auth=SPAPIAuth("default"), timeout=30
)
response.raise_for_status()

"""Orders of the last week with Amazon's SDK (amzn-sp-api), its tokens from spconnect.

    pip install amzn-sp-api
    python examples/python_amzn_sp_api.py [PROFILE] [CREATED_AFTER]

``api_client`` is the SDK's ApiClient for the profile's endpoint, its token source
spconnect's cache: the SDK never calls Login with Amazon, and a revoked authorization
raises spconnect.errors.AuthorizationRejected at once (exit 4's class: run
``spconnect reauth``) instead of a server error after seconds of retries.
"""

import datetime as dt
import sys

from spapi import OrdersV0Api

from spconnect.errors import AuthorizationRejected
from spconnect.integrations.amzn_sp_api import api_client, restricted_api_client

profile = sys.argv[1] if len(sys.argv) > 1 else "default"
week_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=7)
created_after = sys.argv[2] if len(sys.argv) > 2 else week_ago.strftime("%Y-%m-%dT%H:%M:%SZ")
US = "ATVPDKIKX0DER"

try:
    orders = OrdersV0Api(api_client(profile))
    page = orders.get_orders(marketplace_ids=[US], created_after=created_after)
    while True:
        for order in page.payload.orders:
            print(order.amazon_order_id, order.order_status, order.purchase_date)
        if not page.payload.next_token:
            break
        page = orders.get_orders(marketplace_ids=[US], next_token=page.payload.next_token)
except AuthorizationRejected as error:
    sys.exit(f"{error.message}\n{error.hint}")

# Personal data through a restricted data token that spconnect obtains for this operation.
private = OrdersV0Api(restricted_api_client(profile, "GET", "/orders/v0/orders", ["buyerInfo"]))
for order in private.get_orders(marketplace_ids=[US], created_after=created_after).payload.orders:
    print(order.amazon_order_id, order.buyer_info.buyer_email if order.buyer_info else "-")

"""Orders of the last week with python-amazon-sp-api, its tokens from spconnect.

    pip install python-amazon-sp-api
    python examples/python_sp_api.py [PROFILE] [CREATED_AFTER]

``client_args`` gives any of the library's clients the profile's marketplace and endpoint
and an auth client backed by spconnect's token cache: no LWA credentials in the library,
no LWA request per process, and the library's own restricted-data flow still works.
"""

import datetime as dt
import sys

from sp_api.api import Orders

from spconnect.integrations.sp_api import client_args

profile = sys.argv[1] if len(sys.argv) > 1 else "default"
week_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=7)
created_after = sys.argv[2] if len(sys.argv) > 2 else week_ago.strftime("%Y-%m-%dT%H:%M:%SZ")

orders = Orders(**client_args(profile))
page = orders.get_orders(CreatedAfter=created_after)
while True:
    for order in page.payload["Orders"]:
        print(order["AmazonOrderId"], order["OrderStatus"], order["PurchaseDate"])
    if not page.next_token:
        break
    page = orders.get_orders(NextToken=page.next_token)

# The buyer's e-mail is personal data: the library asks the Tokens API for a restricted
# data token with spconnect's access token, then calls with it.
private = orders.get_orders(CreatedAfter=created_after, RestrictedResources=["buyerInfo"])
for order in private.payload["Orders"]:
    print(order["AmazonOrderId"], order.get("BuyerInfo", {}).get("BuyerEmail", "-"))

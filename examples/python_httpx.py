"""Orders of the last week with httpx, the token from spconnect (spconnect.SPAPIAuth).

    python examples/python_httpx.py [PROFILE] [CREATED_AFTER]

SPAPIAuth adds ``x-amz-access-token`` to every request, from the same memory, cache and
keyring as ``spconnect token`` (a refresh only when due); the script never sees the
refresh token or the client secret. Pages follow ``NextToken`` (amazon.md section 9).
"""

import datetime as dt
import sys

import httpx

import spconnect

profile = sys.argv[1] if len(sys.argv) > 1 else "default"
week_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=7)
created_after = sys.argv[2] if len(sys.argv) > 2 else week_ago.strftime("%Y-%m-%dT%H:%M:%SZ")

endpoint = spconnect.access_token(profile).endpoint  # the profile's region (or sandbox)
params = {"MarketplaceIds": "ATVPDKIKX0DER", "CreatedAfter": created_after}
with httpx.Client(base_url=endpoint, auth=spconnect.SPAPIAuth(profile), timeout=30) as client:
    while True:
        response = client.get("/orders/v0/orders", params=params)
        response.raise_for_status()
        payload = response.json()["payload"]
        for order in payload["Orders"]:
            print(order["AmazonOrderId"], order["OrderStatus"], order["PurchaseDate"])
        if "NextToken" not in payload:
            break
        params["NextToken"] = payload["NextToken"]

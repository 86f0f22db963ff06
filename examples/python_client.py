"""Calling SP-API from Python with spconnect's token handling."""

import httpx

from spconnect import SPAPIAuth, get_access_token

# A token for any HTTP client (from the same cache and keyring as the CLI):
token = get_access_token("default", min_ttl=120)

# Or let httpx add x-amz-access-token to every request:
with httpx.Client(
    base_url="https://sellingpartnerapi-na.amazon.com", auth=SPAPIAuth("default")
) as client:
    response = client.get("/sellers/v1/marketplaceParticipations")
    response.raise_for_status()
    for entry in response.json()["payload"]:
        print(entry["marketplace"]["id"], entry["marketplace"]["name"])

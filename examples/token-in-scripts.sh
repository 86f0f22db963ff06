#!/usr/bin/env bash
# Calling SP-API from a shell script with spconnect. `spconnect token` answers from its
# cache in milliseconds and refreshes when needed, so call it for every request.
set -euo pipefail

profile=${1:-default}

# The environment form: token, endpoint, region and selling partner id in one call.
eval "$(spconnect token -p "$profile" --format env)"

curl --fail-with-body -sS \
    -H "x-amz-access-token: $SPAPI_ACCESS_TOKEN" \
    -H "user-agent: my-integration/1.0 (Language=bash)" \
    "$SPAPI_ENDPOINT/sellers/v1/marketplaceParticipations"

# Or just the header, guaranteed valid for at least the next 10 minutes:
curl --fail-with-body -sS -H "$(spconnect token -p "$profile" --format header --min-ttl 600)" \
    "$SPAPI_ENDPOINT/orders/v0/orders?MarketplaceIds=ATVPDKIKX0DER&CreatedAfter=2026-01-01"

# Exit codes tell a script what to do: 4 means the seller must re-authorize
# (spconnect reauth), 5 the app's secret needs rotating, 6 Amazon is unreachable.

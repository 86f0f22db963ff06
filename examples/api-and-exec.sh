#!/usr/bin/env bash
# Calling SP-API from a shell with `spconnect api` and `spconnect exec`.
# Try it against the emulator: `python -m spconnect.emulator` prints what to export.
set -euo pipefail

profile=${1:-default}
us=ATVPDKIKX0DER

# The account's marketplaces (Sellers API): Amazon's JSON on stdout.
spconnect api -p "$profile" /sellers/v1/marketplaceParticipations | jq -r '.payload[].marketplace.id'

# Every order since January, one page per line, paced to getOrders' usage plan.
spconnect api -p "$profile" --paginate /orders/v0/orders \
    -f MarketplaceIds="$us" -f CreatedAfter=2026-01-01T00:00:00Z |
    jq -r '.payload.Orders[] | [.AmazonOrderId, .OrderStatus] | @tsv'

# With the buyer's e-mail: a restricted data token is obtained for this call.
spconnect api -p "$profile" --rdt buyerInfo /orders/v0/orders \
    -f MarketplaceIds="$us" -f CreatedAfter=2026-01-01T00:00:00Z -F MaxResultsPerPage=10 |
    jq -r '.payload.Orders[] | [.AmazonOrderId, .BuyerInfo.BuyerEmail] | @tsv'

# Exit codes tell a script what happened: 9 is Amazon's error answer (its body on stdout,
# the summary and request id on stderr), 6 Amazon unreachable, 4 re-authorize.
status=0
answer=$(spconnect api -p "$profile" /orders/v0/orders -f MarketplaceIds="$us") || status=$?
if [ "$status" -eq 9 ]; then
    jq -r '.errors[0].code' <<<"$answer" # here: InvalidInput (CreatedAfter is missing)
fi

# Any program with the token in its environment (and none of spconnect's secrets):
spconnect exec -p "$profile" -- sh -c \
    'curl -sS -H "x-amz-access-token: $SPAPI_ACCESS_TOKEN" "$SPAPI_ENDPOINT/sellers/v1/marketplaceParticipations"'

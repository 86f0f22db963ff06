#!/usr/bin/env bash
# Calling SP-API from a shell with `spconnect api` and `spconnect exec`.
# Try it against the emulator: `python -m spconnect.emulator` prints what to export.
set -euo pipefail

profile=${1:-default}
us=ATVPDKIKX0DER

# The account's marketplaces (Sellers API): Amazon's JSON on stdout, compact in a pipe,
# pretty-printed on a terminal.
spconnect api -p "$profile" /sellers/v1/marketplaceParticipations

# The newest order's id, then its shipping address: personal data, so spconnect obtains a
# restricted data token for exactly this call (never printed, never stored). getOrderAddress
# takes no data elements, hence --rdt ''. (With jq: jq -r '.payload.Orders[0].AmazonOrderId')
order_id=$(
    spconnect api -p "$profile" /orders/v0/orders -f MarketplaceIds="$us" \
        -f CreatedAfter=2026-01-01T00:00:00Z -F MaxResultsPerPage=1 |
        sed -n 's/.*"AmazonOrderId":"\([^"]*\)".*/\1/p'
)
spconnect api -p "$profile" --rdt '' "/orders/v0/orders/$order_id/address"

# Exit codes tell a script what happened: 9 is Amazon's error answer (its body on stdout,
# the summary and x-amzn-RequestId on stderr), 4 the seller must authorize again, 6
# Amazon unreachable or throttling beyond the retries.
status=0
answer=$(spconnect api -p "$profile" /orders/v0/orders -f MarketplaceIds="$us") || status=$?
case $status in
0) ;;
9) echo "Amazon refused the request (CreatedAfter is missing): $answer" >&2 ;;
4) echo "the seller must authorize again: spconnect reauth -p $profile" >&2 && exit 4 ;;
*) exit "$status" ;;
esac

# Any program, with the token in its environment (valid 15 minutes at least) and none of
# spconnect's secrets:
spconnect exec -p "$profile" -- sh -c 'curl -sS --fail-with-body \
    -H "x-amz-access-token: $SPAPI_ACCESS_TOKEN" \
    "$SPAPI_ENDPOINT/sellers/v1/marketplaceParticipations"'
echo

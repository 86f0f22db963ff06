#!/usr/bin/env bash
# Export yesterday's orders (UTC) to a JSON Lines file with `spconnect api --paginate`:
# one getOrders page per line, paced to the operation's usage plan, so that a long export
# meets no 429. Exit codes are spconnect's (4: re-authorize, 6: Amazon unreachable, 9:
# Amazon refused the request); a failed export leaves no file behind.
#
#   examples/export-yesterdays-orders.sh [PROFILE] [MARKETPLACE_ID] [FILE]
#
# One order per line instead of one page: jq -c '.payload.Orders[]' FILE
# Try it against the emulator: `python -m spconnect.emulator` prints what to export.
set -euo pipefail

profile=${1:-${SPCONNECT_PROFILE:-default}}
marketplace=${2:-ATVPDKIKX0DER}
day=$(date -u -d yesterday +%Y-%m-%d 2>/dev/null || date -u -v-1d +%Y-%m-%d) # GNU || BSD
today=$(date -u +%Y-%m-%d)
file=${3:-orders-$day.jsonl}

partial=$(mktemp "$file.XXXXXX")
trap 'rm -f "$partial"' EXIT
# 100 orders a page, Amazon's most (PAGE_SIZE: fewer, to see the pages).
spconnect api -p "$profile" --paginate /orders/v0/orders \
    -f MarketplaceIds="$marketplace" \
    -f CreatedAfter="${day}T00:00:00Z" -f CreatedBefore="${today}T00:00:00Z" \
    -F MaxResultsPerPage="${PAGE_SIZE:-100}" >"$partial"
mv "$partial" "$file"
trap - EXIT
echo "$file: $(wc -l <"$file" | tr -d ' ') page(s) of $day's orders" >&2

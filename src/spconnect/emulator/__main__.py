"""``python -m spconnect.emulator``: run the emulator in the foreground for manual testing.

Registers a demo app and a seller account and prints what to paste into spconnect. The
credentials printed are the emulator's own, valid nowhere else.
"""

from __future__ import annotations

import argparse
import sys
import time

from spconnect.emulator.server import Emulator

FIRST_ORDER = "2026-01-01T00:00:00Z"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spconnect.emulator")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any)")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="access token seconds")
    parser.add_argument(
        "--callback-port",
        type=int,
        default=8443,
        help="port of the demo app's https://localhost redirect URI",
    )
    parser.add_argument(
        "--orders",
        type=int,
        default=250,
        metavar="N",
        help="orders of the demo seller in the US marketplace, for `spconnect api` (default 250)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    emulator = Emulator(
        port=args.port, access_token_lifetime=args.token_lifetime, verbose=args.verbose
    ).start()
    # Local https on localhost: no relay page to host for a try-out.
    port = args.callback_port
    app = emulator.state.register_app("demo", redirect_uris=[f"https://localhost:{port}/callback"])
    account = emulator.state.add_account("Demo Seller", region="na")
    refresh_token = emulator.state.self_authorize(app.client_id, account.selling_partner_id)
    orders = max(0, min(args.orders, 100_000))
    emulator.state.add_orders(account.selling_partner_id, orders, first_purchase=FIRST_ORDER)
    print(
        f"""spconnect Amazon emulator on {emulator.url} (Ctrl-C to stop)

  export SPCONNECT_LWA_URL={emulator.token_url}
  export SPCONNECT_CENTRAL_URL={emulator.url}
  export SPCONNECT_SPAPI_URL={emulator.url}

Emulated app 'demo' (these values work only against this emulator):
  client id:      {app.client_id}
  client secret:  {app.client_secret}
  application id: {app.app_id}
  redirect URI:   {app.redirect_uris[0]} (local https: the listener serves it)
Self-authorized refresh token for {account.name} ({account.selling_partner_id}):
  {refresh_token}

Try:
  spconnect app add demo --client-id {app.client_id} \\
      --app-id {app.app_id} --redirect-uri {app.redirect_uris[0]} --client-secret-stdin
  spconnect login --marketplace US          # consent page in the browser
  spconnect login --refresh-token-stdin -p self --marketplace US   # or self-authorized
  spconnect token                           # after the browser's login
  spconnect token -p self                   # after the self-authorized one

Then call the SP-API ({orders} orders of {account.name}, 100 a page):
  spconnect api -p self /orders/v0/orders -f MarketplaceIds=ATVPDKIKX0DER \\
      -f CreatedAfter={FIRST_ORDER} --paginate | wc -l
  spconnect api -p self /orders/v0/orders -f MarketplaceIds=ATVPDKIKX0DER \\
      -f CreatedAfter={FIRST_ORDER} --rdt buyerInfo | head -c 300
  spconnect exec -p self -- env | grep SPAPI_
""",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()
        return 130


if __name__ == "__main__":
    sys.exit(main())

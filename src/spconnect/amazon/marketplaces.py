"""The marketplace catalogue: amazon.md section 4 as data, and how user input maps to it.

Sources: developer-docs.amazon.com/sp-api/docs/marketplace-ids, .../sp-api-endpoints,
.../seller-central-urls, .../vendor-central-urls. Rows marked unconfirmed there keep the
Seller Central URL amazon.md gives and have no Vendor Central URL (``None``), so that a
vendor login through them is refused with a clear message instead of a guessed host.

Vendor consent starts at the chosen marketplace's own Vendor Central (amazon.md section
11: a vendor group's access follows the account that signs in), so a bare region, which
names no marketplace, is refused for vendors. Where Amazon's sources disagree on a host
(India Vendor Central, section 11), consent goes to the section 4 table's host and the
other is accepted as a redirect target (``vendor_central_also``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from spconnect.amazon.endpoints import REGIONS, spapi_endpoint
from spconnect.errors import UsageError

Region = Literal["na", "eu", "fe"]


@dataclass(frozen=True)
class Marketplace:
    code: str
    country: str
    marketplace_id: str
    region: Region
    seller_central: str
    vendor_central: str | None
    # Other hosts of the same Vendor Central that Amazon's sources give (amazon.md section
    # 11): accepted as redirect targets, never sent consent.
    vendor_central_also: tuple[str, ...] = ()
    # The person named the region, not this marketplace (``--marketplace eu``): fine for a
    # seller, whose authorization is regional (amazon.md section 2), not for a vendor.
    chosen_by_region: bool = field(default=False, compare=False)


def _m(
    code: str,
    country: str,
    mid: str,
    region: Region,
    sc: str,
    vc: str | None,
    also: tuple[str, ...] = (),
) -> Marketplace:
    return Marketplace(code, country, mid, region, sc, vc, also)


MARKETPLACES: tuple[Marketplace, ...] = (
    # North America
    _m("CA", "Canada", "A2EUQ1WTGCTBG2", "na",
       "https://sellercentral.amazon.ca", "https://vendorcentral.amazon.ca"),
    _m("US", "United States", "ATVPDKIKX0DER", "na",
       "https://sellercentral.amazon.com", "https://vendorcentral.amazon.com"),
    _m("MX", "Mexico", "A1AM78C64UM0Y8", "na",
       "https://sellercentral.amazon.com.mx", "https://vendorcentral.amazon.com.mx"),
    _m("BR", "Brazil", "A2Q3Y263D00KWC", "na",
       "https://sellercentral.amazon.com.br", "https://vendorcentral.amazon.com.br"),
    # Europe (IE and ZA: Seller Central URL unconfirmed, Vendor Central unknown)
    _m("IE", "Ireland", "A28R8C7NBKEWEA", "eu", "https://sellercentral.amazon.ie", None),
    _m("ES", "Spain", "A1RKKUPIHCS9HS", "eu",
       "https://sellercentral-europe.amazon.com", "https://vendorcentral.amazon.es"),
    _m("UK", "United Kingdom", "A1F83G8C2ARO7P", "eu",
       "https://sellercentral-europe.amazon.com", "https://vendorcentral.amazon.co.uk"),
    _m("FR", "France", "A13V1IB3VIYZZH", "eu",
       "https://sellercentral-europe.amazon.com", "https://vendorcentral.amazon.fr"),
    _m("BE", "Belgium", "AMEN7PMS3EDWL", "eu",
       "https://sellercentral.amazon.com.be", "https://vendorcentral.amazon.com.be"),
    _m("NL", "Netherlands", "A1805IZSGTT6HS", "eu",
       "https://sellercentral.amazon.nl", "https://vendorcentral.amazon.nl"),
    _m("DE", "Germany", "A1PA6795UKMFR9", "eu",
       "https://sellercentral-europe.amazon.com", "https://vendorcentral.amazon.de"),
    _m("IT", "Italy", "APJ6JRA9NG5V4", "eu",
       "https://sellercentral-europe.amazon.com", "https://vendorcentral.amazon.it"),
    _m("SE", "Sweden", "A2NODRKZP88ZB9", "eu",
       "https://sellercentral.amazon.se", "https://vendorcentral.amazon.se"),
    _m("ZA", "South Africa", "AE08WJ6YKNBMC", "eu", "https://sellercentral.amazon.co.za", None),
    _m("PL", "Poland", "A1C3SOZRARQ6R3", "eu",
       "https://sellercentral.amazon.pl", "https://vendorcentral.amazon.pl"),
    _m("EG", "Egypt", "ARBP9OOSHTCHU", "eu",
       "https://sellercentral.amazon.eg", "https://vendorcentral.amazon.me"),
    _m("TR", "Turkey", "A33AVAJ2PDY3EV", "eu",
       "https://sellercentral.amazon.com.tr", "https://vendorcentral.amazon.com.tr"),
    _m("SA", "Saudi Arabia", "A17E79C6D8DWNP", "eu",
       "https://sellercentral.amazon.sa", "https://vendorcentral.amazon.me"),
    _m("AE", "United Arab Emirates", "A2VIGQ35RCS4UG", "eu",
       "https://sellercentral.amazon.ae", "https://vendorcentral.amazon.me"),
    # amazon.md section 11: the archived guide says vendorcentral.amazon.in, Amazon's 2025
    # samples www.vendorcentral.in; consent goes to the former, both are redirect targets.
    _m("IN", "India", "A21TJRUUN4KGV", "eu",
       "https://sellercentral.amazon.in", "https://vendorcentral.amazon.in",
       also=("https://www.vendorcentral.in",)),
    # Far East
    _m("SG", "Singapore", "A19VAU5U5O7RUS", "fe",
       "https://sellercentral.amazon.sg", "https://vendorcentral.amazon.com.sg"),
    _m("AU", "Australia", "A39IBJ37TRP1C6", "fe",
       "https://sellercentral.amazon.com.au", "https://vendorcentral.amazon.com.au"),
    _m("JP", "Japan", "A1VC38T7YXB528", "fe",
       "https://sellercentral.amazon.co.jp", "https://vendorcentral.amazon.co.jp"),
)  # fmt: skip

# Other names people use for a code (ISO 3166 says GB; Amazon says UK).
CODE_ALIASES = {"GB": "UK"}

# The marketplace whose Central a bare region resolves to. amazon.md says a region "uses
# the region's default Seller Central" without naming it: the US site for na, the
# pan-European site for eu (shared by UK, DE, FR, IT, ES) and Japan for fe are the
# largest in each. Any marketplace of the region grants the same regional authorization
# (amazon.md section 2), so the choice only decides which host the consent page is on.
REGION_DEFAULT_CODE = {"na": "US", "eu": "DE", "fe": "JP"}

_BY_CODE = {m.code: m for m in MARKETPLACES}
_BY_ID = {m.marketplace_id: m for m in MARKETPLACES}


def valid_choices() -> str:
    """The accepted values, for error messages."""
    codes = ", ".join(m.code for m in MARKETPLACES)
    return (
        f"a country code ({codes}; GB = UK), a marketplace id, or a region ({', '.join(REGIONS)})"
    )


def resolve_marketplace(value: str) -> Marketplace:
    """Map a country code, a marketplace id or a region to a catalogue row."""
    cleaned = value.strip().strip("'\"").strip()
    upper = cleaned.upper()
    if cleaned.lower() in REGIONS:
        default = _BY_CODE[REGION_DEFAULT_CODE[cleaned.lower()]]
        return dataclasses.replace(default, chosen_by_region=True)
    code = CODE_ALIASES.get(upper, upper)
    if code in _BY_CODE:
        return _BY_CODE[code]
    if cleaned in _BY_ID:
        return _BY_ID[cleaned]
    raise UsageError(
        f"unknown marketplace {cleaned!r}",
        f"use {valid_choices()}",
    )


def by_id(marketplace_id: str) -> Marketplace | None:
    return _BY_ID.get(marketplace_id)


def central_url(marketplace: Marketplace, vendor: bool = False) -> str:
    """The Seller (or Vendor) Central base URL for consent; ``SPCONNECT_CENTRAL_URL``
    replaces every one of them (tests and the emulator), so the same code paths run: the
    vendor refusals come first, whatever the override."""
    if vendor:
        if marketplace.vendor_central is None:
            raise UsageError(
                f"no Vendor Central URL is known for {marketplace.country} ({marketplace.code})",
                "choose another marketplace of the same region with --marketplace",
            )
        if marketplace.chosen_by_region:
            codes = ", ".join(
                m.code for m in MARKETPLACES if m.region == marketplace.region and m.vendor_central
            )
            raise UsageError(
                f"a vendor authorizes at the marketplace's own Vendor Central, and region "
                f"{marketplace.region!r} names no marketplace",
                f"name the marketplace of the vendor account with --marketplace ({codes})",
            )
    override = os.environ.get("SPCONNECT_CENTRAL_URL")
    if override:
        return override.rstrip("/")
    if not vendor:
        return marketplace.seller_central
    assert marketplace.vendor_central is not None
    return marketplace.vendor_central


def central_hosts() -> frozenset[str]:
    """Every Seller and Vendor Central host in the catalogue, the other hosts of
    amazon.md section 11 included (for redirect checks)."""
    hosts: set[str] = set()
    for m in MARKETPLACES:
        for url in (m.seller_central, m.vendor_central, *m.vendor_central_also):
            if url:
                hosts.add(urlsplit(url).netloc)
    return frozenset(hosts)


def region_endpoint(marketplace: Marketplace, sandbox: bool = False) -> str:
    return spapi_endpoint(marketplace.region, sandbox)

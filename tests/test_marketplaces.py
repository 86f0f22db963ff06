"""The marketplace catalogue, pinned row by row against amazon.md section 4."""

from __future__ import annotations

import pytest

from spconnect.amazon import marketplaces
from spconnect.amazon.endpoints import SANDBOX_ENDPOINTS, SPAPI_ENDPOINTS, spapi_endpoint
from spconnect.errors import ExitCode, UsageError

# Copied by hand from amazon.md section 4 (code, marketplace id, region, Seller Central,
# Vendor Central; None where amazon.md says "unconfirmed").
AMAZON_MD_ROWS = [
    ("CA", "A2EUQ1WTGCTBG2", "na", "https://sellercentral.amazon.ca", "https://vendorcentral.amazon.ca"),
    ("US", "ATVPDKIKX0DER", "na", "https://sellercentral.amazon.com", "https://vendorcentral.amazon.com"),
    ("MX", "A1AM78C64UM0Y8", "na", "https://sellercentral.amazon.com.mx", "https://vendorcentral.amazon.com.mx"),
    ("BR", "A2Q3Y263D00KWC", "na", "https://sellercentral.amazon.com.br", "https://vendorcentral.amazon.com.br"),
    ("IE", "A28R8C7NBKEWEA", "eu", "https://sellercentral.amazon.ie", None),
    ("ES", "A1RKKUPIHCS9HS", "eu", "https://sellercentral-europe.amazon.com", "https://vendorcentral.amazon.es"),
    ("UK", "A1F83G8C2ARO7P", "eu", "https://sellercentral-europe.amazon.com", "https://vendorcentral.amazon.co.uk"),
    ("FR", "A13V1IB3VIYZZH", "eu", "https://sellercentral-europe.amazon.com", "https://vendorcentral.amazon.fr"),
    ("BE", "AMEN7PMS3EDWL", "eu", "https://sellercentral.amazon.com.be", "https://vendorcentral.amazon.com.be"),
    ("NL", "A1805IZSGTT6HS", "eu", "https://sellercentral.amazon.nl", "https://vendorcentral.amazon.nl"),
    ("DE", "A1PA6795UKMFR9", "eu", "https://sellercentral-europe.amazon.com", "https://vendorcentral.amazon.de"),
    ("IT", "APJ6JRA9NG5V4", "eu", "https://sellercentral-europe.amazon.com", "https://vendorcentral.amazon.it"),
    ("SE", "A2NODRKZP88ZB9", "eu", "https://sellercentral.amazon.se", "https://vendorcentral.amazon.se"),
    ("ZA", "AE08WJ6YKNBMC", "eu", "https://sellercentral.amazon.co.za", None),
    ("PL", "A1C3SOZRARQ6R3", "eu", "https://sellercentral.amazon.pl", "https://vendorcentral.amazon.pl"),
    ("EG", "ARBP9OOSHTCHU", "eu", "https://sellercentral.amazon.eg", "https://vendorcentral.amazon.me"),
    ("TR", "A33AVAJ2PDY3EV", "eu", "https://sellercentral.amazon.com.tr", "https://vendorcentral.amazon.com.tr"),
    ("SA", "A17E79C6D8DWNP", "eu", "https://sellercentral.amazon.sa", "https://vendorcentral.amazon.me"),
    ("AE", "A2VIGQ35RCS4UG", "eu", "https://sellercentral.amazon.ae", "https://vendorcentral.amazon.me"),
    ("IN", "A21TJRUUN4KGV", "eu", "https://sellercentral.amazon.in", "https://vendorcentral.amazon.in"),
    ("SG", "A19VAU5U5O7RUS", "fe", "https://sellercentral.amazon.sg", "https://vendorcentral.amazon.com.sg"),
    ("AU", "A39IBJ37TRP1C6", "fe", "https://sellercentral.amazon.com.au", "https://vendorcentral.amazon.com.au"),
    ("JP", "A1VC38T7YXB528", "fe", "https://sellercentral.amazon.co.jp", "https://vendorcentral.amazon.co.jp"),
]  # fmt: skip


def test_catalogue_has_exactly_the_rows_of_amazon_md() -> None:
    assert [m.code for m in marketplaces.MARKETPLACES] == [row[0] for row in AMAZON_MD_ROWS]


@pytest.mark.parametrize(("code", "mid", "region", "seller", "vendor"), AMAZON_MD_ROWS)
def test_every_row_resolves_by_code_lowercase_code_and_id(
    code: str,
    mid: str,
    region: str,
    seller: str,
    vendor: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SPCONNECT_CENTRAL_URL", raising=False)
    monkeypatch.delenv("SPCONNECT_SPAPI_URL", raising=False)
    for query in (code, code.lower(), mid, f"  '{code}' "):
        m = marketplaces.resolve_marketplace(query)
        assert (m.code, m.marketplace_id, m.region) == (code, mid, region)
        assert marketplaces.central_url(m) == seller
        assert marketplaces.region_endpoint(m) == SPAPI_ENDPOINTS[region]
        assert marketplaces.region_endpoint(m, sandbox=True) == SANDBOX_ENDPOINTS[region]
        if vendor is None:
            with pytest.raises(UsageError, match="no Vendor Central URL"):
                marketplaces.central_url(m, vendor=True)
        else:
            assert marketplaces.central_url(m, vendor=True) == vendor


def test_endpoints_match_amazon_md() -> None:
    assert SPAPI_ENDPOINTS == {
        "na": "https://sellingpartnerapi-na.amazon.com",
        "eu": "https://sellingpartnerapi-eu.amazon.com",
        "fe": "https://sellingpartnerapi-fe.amazon.com",
    }
    assert SANDBOX_ENDPOINTS == {
        "na": "https://sandbox.sellingpartnerapi-na.amazon.com",
        "eu": "https://sandbox.sellingpartnerapi-eu.amazon.com",
        "fe": "https://sandbox.sellingpartnerapi-fe.amazon.com",
    }


def test_gb_is_an_alias_of_uk() -> None:
    assert marketplaces.resolve_marketplace("GB").code == "UK"
    assert marketplaces.resolve_marketplace("gb").marketplace_id == "A1F83G8C2ARO7P"


@pytest.mark.parametrize(
    ("region", "code"), [("na", "US"), ("eu", "DE"), ("EU", "DE"), ("fe", "JP")]
)
def test_region_resolves_to_its_default_marketplace(region: str, code: str) -> None:
    m = marketplaces.resolve_marketplace(region)
    assert m.code == code
    assert m.region == region.lower()


def test_unknown_marketplace_is_a_usage_error_listing_the_codes() -> None:
    with pytest.raises(UsageError) as info:
        marketplaces.resolve_marketplace("XX")
    assert info.value.exit_code == ExitCode.USAGE
    assert "'XX'" in info.value.message
    for code in ("US", "DE", "JP", "GB = UK", "na, eu, fe"):
        assert code in str(info.value.hint)


def test_overrides_replace_central_and_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPCONNECT_CENTRAL_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("SPCONNECT_SPAPI_URL", "http://127.0.0.1:8/")
    m = marketplaces.resolve_marketplace("JP")
    assert marketplaces.central_url(m) == "http://127.0.0.1:9"
    assert marketplaces.central_url(m, vendor=True) == "http://127.0.0.1:9"
    assert spapi_endpoint("fe") == "http://127.0.0.1:8"


# amazon.md section 11: hosts Amazon's sources disagree on; both are accepted as redirect
# targets, consent goes to the one of the section 4 table.
SECTION_11_HOSTS = {"IN": ("https://vendorcentral.amazon.in", "https://www.vendorcentral.in")}


def test_central_hosts_cover_every_seller_and_vendor_host() -> None:
    hosts = marketplaces.central_hosts()
    assert "sellercentral-europe.amazon.com" in hosts
    assert "vendorcentral.amazon.me" in hosts
    table = {h for row in AMAZON_MD_ROWS for h in row[3:] if h}
    also = {h for pair in SECTION_11_HOSTS.values() for h in pair}
    assert {f"https://{h}" for h in hosts} == table | also


def test_india_vendor_central_accepts_both_hosts_and_consent_uses_the_table_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SPCONNECT_CENTRAL_URL", raising=False)
    india = marketplaces.resolve_marketplace("IN")
    table_host, other_host = SECTION_11_HOSTS["IN"]
    assert marketplaces.central_url(india, vendor=True) == table_host
    assert india.vendor_central_also == (other_host,)
    assert "www.vendorcentral.in" in marketplaces.central_hosts()
    assert "vendorcentral.in" not in marketplaces.central_hosts()


@pytest.mark.parametrize("region", ["na", "eu", "fe"])
def test_vendor_consent_needs_a_marketplace_not_a_region(
    region: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """amazon.md section 11: vendor consent starts at the marketplace's own Vendor Central
    (a vendor group's access follows the account that signs in): a region names none."""
    monkeypatch.delenv("SPCONNECT_CENTRAL_URL", raising=False)
    by_region = marketplaces.resolve_marketplace(region)
    assert marketplaces.central_url(by_region)  # sellers: the region's default is fine
    with pytest.raises(UsageError, match="own Vendor Central") as info:
        marketplaces.central_url(by_region, vendor=True)
    assert "--marketplace" in str(info.value.hint)
    same_by_code = marketplaces.resolve_marketplace(by_region.code)
    assert same_by_code == by_region  # the same row, however it was named
    assert marketplaces.central_url(same_by_code, vendor=True) == same_by_code.vendor_central
    # The emulator's override takes the same path: the refusal does not depend on it.
    monkeypatch.setenv("SPCONNECT_CENTRAL_URL", "http://127.0.0.1:9")
    with pytest.raises(UsageError, match="own Vendor Central"):
        marketplaces.central_url(by_region, vendor=True)


def test_unknown_vendor_central_is_refused_under_the_override_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPCONNECT_CENTRAL_URL", "http://127.0.0.1:9")
    with pytest.raises(UsageError, match="no Vendor Central URL"):
        marketplaces.central_url(marketplaces.resolve_marketplace("IE"), vendor=True)

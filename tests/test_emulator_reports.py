"""The emulator's getReports (Reports API 2021-06-30) behaves as its reference says:
reportTypes or nextToken required, pages of pageSize, and a next page asked for with
nextToken as the only parameter (any other parameter beside it fails)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from spconnect.amazon.lwa import LwaClient
from spconnect.emulator import Emulator

PATH = "/reports/2021-06-30/reports"
LISTINGS = "GET_MERCHANT_LISTINGS_ALL_DATA"


@pytest.fixture
def reports(emulator: Emulator) -> Iterator[tuple[httpx.Client, list[str]]]:
    """A client with a seller's access token, and the ids of its five listings reports."""
    app = emulator.state.register_app("reports")
    account = emulator.state.add_account("Reports Shop")
    refresh_token = emulator.state.self_authorize(app.client_id, account.selling_partner_id)
    grant = LwaClient(emulator.token_url).refresh(
        client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh_token
    )
    made = emulator.state.add_reports(account.selling_partner_id, 5)
    emulator.state.add_reports(account.selling_partner_id, 2, report_type="GET_V2_SETTLEMENT")
    headers = {"x-amz-access-token": grant.access_token}
    with httpx.Client(base_url=emulator.url, headers=headers, timeout=10) as client:
        yield client, [str(report["reportId"]) for report in made]


def test_pages_follow_with_the_next_token_alone(
    reports: tuple[httpx.Client, list[str]],
) -> None:
    client, ids = reports
    response = client.get(PATH, params={"reportTypes": LISTINGS, "pageSize": "2"})
    seen, pages = [], 0
    while True:
        pages += 1
        assert response.status_code == 200, response.text
        assert response.headers["x-amzn-RateLimit-Limit"] == "0.0222"
        body = response.json()
        seen += [report["reportId"] for report in body["reports"]]
        assert all(report["reportType"] == LISTINGS for report in body["reports"])
        if "nextToken" not in body:
            break
        response = client.get(PATH, params={"nextToken": body["nextToken"]})
    assert (pages, seen) == (3, ids)


def test_a_next_token_with_any_other_parameter_fails(
    reports: tuple[httpx.Client, list[str]],
) -> None:
    client, _ = reports
    first = client.get(PATH, params={"reportTypes": LISTINGS, "pageSize": "2"}).json()
    for extra in ({"reportTypes": LISTINGS}, {"pageSize": "2"}, {"marketplaceIds": ""}):
        refused = client.get(PATH, params={**extra, "nextToken": first["nextToken"]})
        assert refused.status_code == 400
        error = refused.json()["errors"][0]
        assert error["code"] == "InvalidInput" and "nextToken" in error["message"]
    # The token itself is still good on its own.
    alone = client.get(PATH, params={"nextToken": first["nextToken"]})
    assert alone.status_code == 200 and len(alone.json()["reports"]) == 2


def test_get_reports_refuses_what_the_reference_refuses(
    reports: tuple[httpx.Client, list[str]],
) -> None:
    client, _ = reports
    for params in (
        {},  # neither reportTypes nor nextToken
        {"reportTypes": LISTINGS, "pageSize": "101"},
        {"reportTypes": LISTINGS, "processingStatuses": "FINISHED"},
        {"reportTypes": LISTINGS, "createdSince": "yesterday"},
        {"nextToken": "forged"},
    ):
        refused = client.get(PATH, params=params)
        assert refused.status_code == 400, params
        assert refused.json()["errors"][0]["code"] == "InvalidInput"
    done = client.get(PATH, params={"reportTypes": LISTINGS, "processingStatuses": "DONE"})
    assert len(done.json()["reports"]) == 5  # pageSize defaults to 10
    assert client.get(PATH, headers={"x-amz-access-token": "Atza|nope"}).status_code == 403

"""The emulator's consent pages answer as Seller Central does (amazon.md sections 2, 3, 10)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from spconnect.amazon.ids import check_selling_partner_id
from spconnect.emulator import Emulator

REDIRECT = "https://you.example.com/cb"


def consent(emulator: Emulator, **query: str) -> httpx.Response:
    return httpx.get(f"{emulator.url}/apps/authorize/consent?{urlencode(query)}", timeout=5)


def decide(emulator: Emulator, **form: str) -> httpx.Response:
    return httpx.post(f"{emulator.url}/apps/authorize/decide", data=form, timeout=5)


def test_draft_app_without_version_beta_is_md1000(emulator: Emulator) -> None:
    app = emulator.state.register_app(redirect_uris=[REDIRECT])
    response = consent(emulator, application_id=app.app_id, state="s", redirect_uri=REDIRECT)
    assert response.status_code == 400 and "MD1000" in response.text


def test_client_id_as_application_id_is_md1000(emulator: Emulator) -> None:
    app = emulator.state.register_app(redirect_uris=[REDIRECT])
    response = consent(emulator, application_id=app.client_id, state="s", version="beta")
    assert "MD1000" in response.text


def test_unregistered_redirect_is_md5101_and_fragment_md5110(emulator: Emulator) -> None:
    app = emulator.state.register_app(redirect_uris=[REDIRECT])
    other = consent(
        emulator,
        application_id=app.app_id,
        state="s",
        version="beta",
        redirect_uri="https://elsewhere.example/cb",
    )
    assert "MD5101" in other.text
    fragment = consent(
        emulator, application_id=app.app_id, state="s", version="beta", redirect_uri=REDIRECT + "#x"
    )
    assert "MD5110" in fragment.text


def test_consent_page_lists_the_accounts_and_approve_issues_a_code(emulator: Emulator) -> None:
    app = emulator.state.register_app(redirect_uris=[REDIRECT], draft=False)
    a = emulator.state.add_account("Shop A")
    b = emulator.state.add_account("Shop B")
    emulator.state.add_account("A vendor", vendor=True)
    page = consent(emulator, application_id=app.app_id, state="53682.s", redirect_uri=REDIRECT)
    assert page.status_code == 200
    assert "Shop A" in page.text and "Shop B" in page.text and "A vendor" not in page.text
    answer = decide(
        emulator,
        application_id=app.app_id,
        state="53682.s",
        redirect_uri=REDIRECT,
        selling_partner_id=b.selling_partner_id,
        decision="approve",
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert query["state"] == ["53682.s"]
    assert query["selling_partner_id"] == [b.selling_partner_id]
    assert query["spapi_oauth_code"][0]
    assert a.selling_partner_id not in answer.headers["location"]


def test_deny_redirects_with_access_denied(emulator: Emulator) -> None:
    app = emulator.state.register_app(redirect_uris=[REDIRECT], draft=False)
    emulator.state.add_account("Shop A")
    answer = decide(
        emulator, application_id=app.app_id, state="s", redirect_uri=REDIRECT, decision="deny"
    )
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["s"]
    assert "spapi_oauth_code" not in query


def test_the_website_flow_skips_the_login_uri(emulator: Emulator) -> None:
    """amazon.md section 3: a consent URL the app built goes straight to the consent page
    and then the redirect URI, even for an app with a Login URI."""
    app = emulator.state.register_app(
        redirect_uris=[REDIRECT], login_uri="https://you.example.com/login"
    )
    emulator.state.add_account("Shop A")
    page = consent(
        emulator, application_id=app.app_id, state="53682.s", version="beta", redirect_uri=REDIRECT
    )
    assert page.status_code == 200 and "Shop A" in page.text  # the consent page, no hop


def test_login_uri_hop_then_confirm(emulator: Emulator) -> None:
    app = emulator.state.register_app(
        redirect_uris=[REDIRECT], login_uri="https://you.example.com/login"
    )
    account = emulator.state.add_account("Shop A")
    hop = httpx.post(
        f"{emulator.url}/apps/appstore/authorize", data={"application_id": app.app_id}, timeout=5
    )
    assert hop.status_code == 302
    location = urlsplit(hop.headers["location"])
    assert location.netloc == "you.example.com" and location.path == "/login"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["amazon_callback_uri"] == f"/apps/authorize/confirm/{app.app_id}"  # relative
    assert query["selling_partner_id"] == account.selling_partner_id
    assert query["version"] == "beta"
    confirm_url = f"{emulator.url}{query['amazon_callback_uri']}?" + urlencode(
        {
            "amazon_state": query["amazon_state"],
            "state": "53682.s",
            "redirect_uri": REDIRECT,
            "version": "beta",
        }
    )
    page = httpx.get(confirm_url, timeout=5)
    assert page.status_code == 200 and "Shop A" in page.text
    again = httpx.get(confirm_url, timeout=5)
    assert again.status_code == 400  # amazon_state is single-use


def test_auto_approve_skips_the_page(emulator: Emulator) -> None:
    app = emulator.state.register_app(redirect_uris=[REDIRECT])
    account = emulator.state.add_account("Shop A")
    emulator.state.auto_approve = account.selling_partner_id
    answer = consent(
        emulator, application_id=app.app_id, state="s", version="beta", redirect_uri=REDIRECT
    )
    assert answer.status_code == 302 and "spapi_oauth_code=" in answer.headers["location"]


def test_vendor_accounts_are_vendor_groups(emulator: Emulator) -> None:
    """amazon.md section 1: vendors' selling partner ids are amzn1.vg.<digits>."""
    vendors = [emulator.state.add_account(f"Vendor {n}", vendor=True) for n in range(20)]
    seller = emulator.state.add_account("Shop A")
    for vendor in vendors:
        assert re.fullmatch(r"amzn1\.vg\.[0-9]+", vendor.selling_partner_id)
        assert check_selling_partner_id(vendor.selling_partner_id)
    assert len({v.selling_partner_id for v in vendors}) == len(vendors)
    assert re.fullmatch(r"[A-Z0-9]{8,20}", seller.selling_partner_id)


def test_vendor_app_consent_offers_vendor_groups_only(emulator: Emulator) -> None:
    app = emulator.state.register_app(redirect_uris=[REDIRECT], draft=False, kind="vendor")
    vendor = emulator.state.add_account("A Vendor", vendor=True)
    emulator.state.add_account("Shop A")
    page = consent(emulator, application_id=app.app_id, state="53682.s", redirect_uri=REDIRECT)
    assert vendor.selling_partner_id in page.text and "Shop A" not in page.text


LOGIN_URI = "https://you.example.com/login"


def hop_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == LOGIN_URI
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def confirm_page(emulator: Emulator, query: dict[str, str]) -> httpx.Response:
    return httpx.get(
        f"{emulator.url}{query['amazon_callback_uri']}?"
        + urlencode(
            {
                "amazon_state": query["amazon_state"],
                "state": "53682.s",
                "redirect_uri": REDIRECT,
                "version": "beta",
            }
        ),
        timeout=5,
    )


def test_re_authorize_in_manage_your_apps_goes_to_the_login_uri_for_that_account(
    emulator: Emulator,
) -> None:
    """amazon.md sections 3 and 6: the yearly renewal starts in Seller Central and reaches
    the app's Login URI, with no app waiting for it."""
    app = emulator.state.register_app(redirect_uris=[REDIRECT], login_uri=LOGIN_URI)
    renewing = emulator.state.add_account("Shop A")
    other = emulator.state.add_account("Shop B")
    emulator.state.self_authorize(app.client_id, renewing.selling_partner_id)
    manage = httpx.get(f"{emulator.url}/apps/manage", timeout=5)
    assert manage.status_code == 200
    assert f"data-account='{renewing.selling_partner_id}'" in manage.text
    assert other.selling_partner_id not in manage.text  # never authorized the app
    query = hop_query(
        httpx.post(
            f"{emulator.url}/apps/manage/reauthorize",
            data={"application_id": app.app_id, "selling_partner_id": renewing.selling_partner_id},
            timeout=5,
        )
    )
    assert query["amazon_callback_uri"] == f"/apps/authorize/confirm/{app.app_id}"
    assert query["selling_partner_id"] == renewing.selling_partner_id
    assert query["version"] == "beta" and query["amazon_state"]
    page = confirm_page(emulator, query)
    assert page.status_code == 200
    assert renewing.selling_partner_id in page.text and other.selling_partner_id not in page.text


def test_re_authorize_needs_a_login_uri_and_an_authorization(emulator: Emulator) -> None:
    without = emulator.state.register_app("plain", redirect_uris=[REDIRECT])
    with_uri = emulator.state.register_app("hop", redirect_uris=[REDIRECT], login_uri=LOGIN_URI)
    account = emulator.state.add_account("Shop A")
    emulator.state.self_authorize(without.client_id, account.selling_partner_id)

    def reauthorize(app_id: str) -> httpx.Response:
        form = {"application_id": app_id, "selling_partner_id": account.selling_partner_id}
        return httpx.post(f"{emulator.url}/apps/manage/reauthorize", data=form, timeout=5)

    assert "MD5100" in reauthorize(without.app_id).text  # amazon.md section 10
    assert "MD9999" in reauthorize(with_uri.app_id).text  # nothing to renew
    emulator.state.revoke(
        client_id=without.client_id, selling_partner_id=account.selling_partner_id
    )
    assert "No authorized apps" in httpx.get(f"{emulator.url}/apps/manage", timeout=5).text


def test_appstore_authorize_now_goes_to_the_login_uri(emulator: Emulator) -> None:
    app = emulator.state.register_app(redirect_uris=[REDIRECT], login_uri=LOGIN_URI, draft=False)
    a = emulator.state.add_account("Shop A")
    b = emulator.state.add_account("Shop B")
    store = httpx.get(f"{emulator.url}/apps/appstore/{app.app_id}", timeout=5)
    assert store.status_code == 200 and "Authorize now" in store.text
    query = hop_query(
        httpx.post(
            f"{emulator.url}/apps/appstore/authorize",
            data={"application_id": app.app_id},
            timeout=5,
        )
    )
    assert "version" not in query and "selling_partner_id" not in query  # two accounts
    page = confirm_page(emulator, query)
    assert a.selling_partner_id in page.text and b.selling_partner_id in page.text

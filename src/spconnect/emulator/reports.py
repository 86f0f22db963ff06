"""The emulated Reports API 2021-06-30: ``GET /reports/2021-06-30/reports`` (getReports),
in the shapes of Amazon's reports_2021-06-30 model (amazon.md section 9 for the common
parts: errors, usage plans, next tokens).

As the operation's reference has it (as published in amzn-sp-api 1.13.0): either
``reportTypes`` (1 to 10 types) or ``nextToken`` is required; with ``reportTypes``,
``processingStatuses``, ``marketplaceIds`` (1 to 10), ``createdSince`` (default 90 days
ago), ``createdUntil`` (default now) and ``pageSize`` (1 to 100, default 10) may be given;
the answer is ``{"reports": [...], "nextToken": ...}``, and the next page is asked for with
``nextToken`` as the only parameter: "Specifying nextToken with any other parameters will
cause the request to fail" (here 400 InvalidInput; the words of the message are the
emulator's). Reports are listed in the order they were created. Sellers and vendors may
call it; its usage plan is in emulator/throttle.py.
"""

from __future__ import annotations

import datetime as dt
import secrets

from spconnect.emulator import rdt
from spconnect.emulator.orders import parse_timestamp
from spconnect.emulator.sellers import Answer
from spconnect.emulator.state import Account, EmulatorState

PATH = "/reports/2021-06-30/reports"
STATUSES = frozenset({"CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE"})
_DEFAULT_PAGE = 10
_MAX_PAGE = 100
_MAX_LIST = 10
_RETENTION = dt.timedelta(days=90)  # reports are kept 90 days: createdSince's default


def get_reports(state: EmulatorState, query: list[tuple[str, str]], token: str) -> Answer:
    """getReports for the query string's parameters, blank ones included."""
    state.count("getReports")
    with state.lock:
        admitted = rdt.admit(state, token, "GET", PATH, "getReports", vendors=True)
        if isinstance(admitted, Answer):
            return admitted
        account, quota = admitted
        answer = _page(state, account, query)
        answer.headers.update(quota.header)
        return answer


def _invalid(message: str) -> Answer:
    return rdt.error(400, "InvalidInput", message)


def _page(state: EmulatorState, account: Account, query: list[tuple[str, str]]) -> Answer:
    params = dict(query)
    if "nextToken" in params:
        if len(query) > 1:
            return _invalid("nextToken must be the only parameter when it is given.")
        page = state.report_pages.get(params["nextToken"])
        if page is None or page[0] != account.selling_partner_id:
            return _invalid("Invalid nextToken.")
        _, kept, offset = page
    else:
        checked = _filters(state, params)
        if isinstance(checked, Answer):
            return checked
        kept, offset = checked, 0
    types = set(kept["types"].split(","))
    statuses = set(kept["statuses"].split(",")) if kept["statuses"] else STATUSES
    marketplaces = set(kept["marketplaces"].split(",")) if kept["marketplaces"] else None
    since = dt.datetime.fromisoformat(kept["since"])
    until = dt.datetime.fromisoformat(kept["until"])

    def matches(report: dict[str, object]) -> bool:
        created = parse_timestamp(str(report["createdTime"]))
        assert created is not None
        listed = report["marketplaceIds"]
        assert isinstance(listed, list)
        return (
            report["reportType"] in types
            and report["processingStatus"] in statuses
            and (marketplaces is None or bool(marketplaces & set(listed)))
            and since <= created <= until
        )

    matching = [r for r in state.reports.get(account.selling_partner_id, []) if matches(r)]
    end = offset + int(kept["size"])
    body: dict[str, object] = {"reports": matching[offset:end]}
    if end < len(matching):
        token = secrets.token_urlsafe(48)  # opaque, as Amazon's are
        state.report_pages[token] = (account.selling_partner_id, kept, end)
        body["nextToken"] = token
    return Answer(200, body, {})


def _filters(state: EmulatorState, params: dict[str, str]) -> dict[str, str] | Answer:
    """The first page's filters, checked, in the form a nextToken keeps them."""
    types = _listed(params.get("reportTypes", ""))
    if not types:
        return _invalid("Either reportTypes or nextToken is required.")
    statuses = _listed(params.get("processingStatuses", ""))
    marketplaces = _listed(params.get("marketplaceIds", ""))
    if len(types) > _MAX_LIST or len(marketplaces) > _MAX_LIST:
        return _invalid(f"reportTypes and marketplaceIds take at most {_MAX_LIST} values.")
    if not set(statuses) <= STATUSES:
        return _invalid(f"processingStatuses must be among {', '.join(sorted(STATUSES))}.")
    size = params.get("pageSize", str(_DEFAULT_PAGE))
    if not size.isdigit() or not 1 <= int(size) <= _MAX_PAGE:
        return _invalid(f"pageSize must be 1 to {_MAX_PAGE}.")
    now = dt.datetime.fromtimestamp(state.now(), dt.timezone.utc)
    since = parse_timestamp(params.get("createdSince") or (now - _RETENTION).isoformat())
    until = parse_timestamp(params.get("createdUntil") or now.isoformat())
    if since is None or until is None:
        return _invalid("createdSince and createdUntil must be in ISO 8601 format.")
    return {
        "types": ",".join(types),
        "statuses": ",".join(statuses),
        "marketplaces": ",".join(marketplaces),
        "since": since.isoformat(),
        "until": until.isoformat(),
        "size": size,
    }


def _listed(value: str) -> list[str]:
    return [item for item in value.split(",") if item]

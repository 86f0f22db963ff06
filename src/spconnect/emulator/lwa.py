"""The emulated LWA token endpoint: ``POST /auth/o2/token`` (amazon.md section 5).

Answers as Amazon does: form-encoded requests only, ``invalid_client`` with HTTP 401 for a
wrong client id or secret, ``invalid_grant`` with 400 for revoked, unknown, expired or
reused grants, ``expires_in`` from the configured lifetime, an ``x-amzn-RequestId``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs

from spconnect.emulator.state import CODE_LIFETIME_SECONDS, EmulatorState, Grant, _token

GRANTLESS_SCOPES = {
    "sellingpartnerapi::notifications",
    "sellingpartnerapi::client_credential:rotation",
}


@dataclass
class Answer:
    status: int
    body: dict[str, object]


def _error(status: int, error: str, description: str) -> Answer:
    return Answer(
        status,
        {"error": error, "error_description": description, "request_id": secrets.token_hex(16)},
    )


def token_endpoint(state: EmulatorState, content_type: str, raw_body: bytes) -> Answer:
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        return _error(400, "invalid_request", "The Content-Type must be form-urlencoded")
    try:
        fields = {k: v[0] for k, v in parse_qs(raw_body.decode(), strict_parsing=False).items()}
    except UnicodeDecodeError:
        return _error(400, "invalid_request", "Malformed request body")
    grant_type = fields.get("grant_type", "")
    state.count(grant_type or "missing_grant_type")
    for required in ("grant_type", "client_id", "client_secret"):
        if not fields.get(required):
            return _error(
                400, "invalid_request", f"The request is missing a required parameter : {required}"
            )
    with state.lock:
        app = state.apps.get(fields["client_id"])
        secret_ok = app is not None and (
            secrets.compare_digest(fields["client_secret"], app.client_secret)
            or any(secrets.compare_digest(fields["client_secret"], s) for s in app.old_secrets)
        )
        if app is None or not secret_ok:
            return _error(401, "invalid_client", "Client authentication failed")

        if grant_type == "refresh_token":
            token = fields.get("refresh_token", "")
            grant = state.refresh_tokens.get(token)
            if not token:
                return _error(
                    400,
                    "invalid_request",
                    "The request is missing a required parameter : refresh_token",
                )
            if grant is None or grant.revoked or grant.client_id != app.client_id:
                return _error(
                    400,
                    "invalid_grant",
                    "The request has an invalid grant parameter : refresh_token",
                )
            return _issue_access_token(state, grant, refresh_token=token)

        if grant_type == "authorization_code":
            code = state.codes.get(fields.get("code", ""))
            if (
                code is None
                or code.used
                or code.client_id != app.client_id
                or state.now() - code.issued_at > CODE_LIFETIME_SECONDS
            ):
                return _error(
                    400, "invalid_grant", "The request has an invalid grant parameter : code"
                )
            if fields.get("redirect_uri") != code.redirect_uri:
                return _error(
                    400,
                    "invalid_grant",
                    "The request has an invalid grant parameter : redirect_uri",
                )
            code.used = True
            refresh_token = _token("Atzr|")
            grant = Grant(app.client_id, code.selling_partner_id)
            state.refresh_tokens[refresh_token] = grant
            return _issue_access_token(state, grant, refresh_token=refresh_token)

        if grant_type == "client_credentials":
            scope = fields.get("scope", "")
            if scope not in GRANTLESS_SCOPES or app.kind != "seller":
                return _error(400, "invalid_scope", "An unknown scope was requested")
            return _issue_access_token(state, Grant(app.client_id, None), scope=scope)

    return _error(400, "unsupported_grant_type", "The authorization grant type is not supported")


def _issue_access_token(
    state: EmulatorState,
    grant: Grant,
    *,
    refresh_token: str | None = None,
    scope: str | None = None,
) -> Answer:
    access_token = _token("Atza|")
    lifetime = state.access_token_lifetime
    state.access_tokens[access_token] = (grant, state.now() + lifetime, scope)
    body: dict[str, object] = {
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": lifetime,
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return Answer(200, body)

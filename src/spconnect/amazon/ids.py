"""Shapes of Amazon's identifiers and secrets (amazon.md section 1), checked before any
network call, with the two classic mix-ups named: the LWA client id pasted as the
application id (consent page MD1000) and the application id pasted as the client id
(token endpoint ``invalid_client``)."""

from __future__ import annotations

import re

from spconnect.errors import UsageError
from spconnect.names import clean_pasted, is_profile_name, is_visible_ascii

CLIENT_ID_PREFIX = "amzn1.application-oa2-client."
_CLIENT_ID = re.compile(r"amzn1\.application-oa2-client\.[0-9a-fA-F]{8,64}")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Current apps: amzn1.sp.solution.<uuid>; older ones: amzn1.sellerapps.app.<uuid>.
_APP_ID = re.compile(rf"amzn1\.(?:sp\.solution|sellerapps\.app)\.{_UUID}")
# Selling partner ids: sellers' ("merchant tokens") are upper-case alphanumerics, e.g.
# A3FHEXAMPLEYWS; vendors' are vendor groups, amzn1.vg.<digits> (amazon.md section 1:
# selling-partner-api-docs #2247, #194).
_SELLING_PARTNER_ID = re.compile(r"[A-Z0-9]{8,20}|amzn1\.vg\.[0-9]{1,20}")
REFRESH_TOKEN_PREFIX = "Atzr|"
ACCESS_TOKEN_PREFIX = "Atza|"
# amazon.md section 1: refresh and access tokens are at most 2048 bytes.
MAX_TOKEN_BYTES = 2048


def is_client_id(value: str) -> bool:
    return _CLIENT_ID.fullmatch(value) is not None


def is_app_id(value: str) -> bool:
    return _APP_ID.fullmatch(value) is not None


def check_client_id(value: str) -> str:
    value = clean_pasted(value)
    if is_client_id(value):
        return value
    if is_app_id(value):
        raise UsageError(
            f"client id {value!r} is an SP-API application id, not an LWA client id",
            "the two are swapped: the LWA client id starts 'amzn1.application-oa2-client.' "
            "and the application id 'amzn1.sp.solution.' (Developer Central > View app)",
        )
    raise UsageError(
        f"client id {value!r} does not look like an LWA client id",
        "expected 'amzn1.application-oa2-client.' followed by hex digits "
        "(Developer Central > your app > LWA credentials > View)",
    )


def check_app_id(value: str) -> str:
    value = clean_pasted(value)
    if is_app_id(value):
        return value
    if is_client_id(value):
        raise UsageError(
            f"application id {value!r} is an LWA client id, not an SP-API application id",
            "the two are swapped: the application id starts 'amzn1.sp.solution.' and the "
            "LWA client id 'amzn1.application-oa2-client.'; Amazon shows MD1000 otherwise",
        )
    raise UsageError(
        f"application id {value!r} does not look like an SP-API application id",
        "expected 'amzn1.sp.solution.<uuid>' (or 'amzn1.sellerapps.app.<uuid>' for older apps)",
    )


def check_selling_partner_id(value: str) -> str:
    value = clean_pasted(value)
    if _SELLING_PARTNER_ID.fullmatch(value):
        return value
    shown = repr(value[:40]) + ("..." if len(value) > 40 else "")
    raise UsageError(
        f"selling partner id {shown} is malformed",
        "expected upper-case letters and digits like A3FHEXAMPLEYWS (sellers), or "
        "amzn1.vg.<digits> (vendors)",
    )


def check_refresh_token(value: str) -> str:
    """Validate a pasted refresh token; the message never repeats the value."""
    value = clean_pasted(value)
    if not value:
        raise UsageError("no refresh token was given", "paste the token that starts 'Atzr|'")
    if value.startswith(ACCESS_TOKEN_PREFIX):
        raise UsageError(
            "that is an access token (starts 'Atza|'), not a refresh token",
            "copy the refresh token, which starts 'Atzr|' (Seller Central > Develop Apps > "
            "Authorize app)",
        )
    if not value.startswith(REFRESH_TOKEN_PREFIX):
        raise UsageError(
            "that does not look like a refresh token",
            "an LWA refresh token starts 'Atzr|'",
        )
    if len(value.encode()) > MAX_TOKEN_BYTES or not is_visible_ascii(value):
        raise UsageError(
            "the refresh token is malformed (too long, or contains spaces or control characters)",
            "copy it again in one piece; it starts 'Atzr|' and is at most 2048 bytes",
        )
    return value


def check_client_secret(value: str) -> str:
    value = clean_pasted(value)
    if not value:
        raise UsageError("no client secret was given", "paste the LWA client secret")
    if not is_visible_ascii(value):
        raise UsageError(
            "the client secret contains spaces or control characters",
            "copy it again in one piece (Developer Central > LWA credentials > View)",
        )
    if is_client_id(value) or is_app_id(value):
        raise UsageError(
            "that is an id, not the client secret",
            "the LWA client secret is shown next to the client id under LWA credentials",
        )
    return value


def check_profile_name(value: str) -> str:
    if is_profile_name(value):
        return value
    raise UsageError(
        f"name {value!r} is not allowed",
        "use letters, digits, '.', '_' and '-', starting with a letter or digit (max 64)",
    )

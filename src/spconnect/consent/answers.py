"""What an answer from the consent flow means, wherever it arrives (the listener or a
paste): one interpretation, so that both ways agree on every rule.

amazon.md section 3: the redirect carries ``state``, ``selling_partner_id`` and
``spapi_oauth_code``; the Login-URI hop carries ``amazon_callback_uri`` and
``amazon_state``; anything without a code is a failure with the text shown to the user.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from spconnect.amazon.consent import (
    ConsentError,
    UnsafeRedirect,
    consent_error_in,
    login_uri_continuation,
)


@dataclass(frozen=True)
class ExpectedAnswer:
    """What this login waits for, and how to continue a Login-URI hop."""

    state: str
    redirect_uri: str
    draft: bool
    consent_base: str  # the Central the consent URL points at; relative hops resolve here
    # ``login --expect-seller``: any other account is refused before its code is exchanged.
    expected_seller: str | None = None


@dataclass(frozen=True)
class Authorized:
    code: str
    selling_partner_id: str | None


@dataclass(frozen=True)
class Refused:
    """Amazon answered without a code (the seller denied, or an error)."""

    reason: str
    advice: str


@dataclass(frozen=True)
class Hop:
    """Send the browser on to Amazon (the Login-URI hop)."""

    target: str


@dataclass(frozen=True)
class Foreign:
    """An answer that is not this login's: missing or wrong ``state``, unsafe hop."""

    reason: str


@dataclass(frozen=True)
class Empty:
    """No parameters at all (a probe, or someone opening the address by hand)."""


Verdict = Authorized | Refused | Hop | Foreign | Empty


def interpret(params: dict[str, str], expected: ExpectedAnswer) -> Verdict:
    if not params:
        return Empty()
    if "amazon_callback_uri" in params and "amazon_state" in params:
        try:
            return Hop(
                login_uri_continuation(
                    amazon_callback_uri=params["amazon_callback_uri"],
                    amazon_state=params["amazon_state"],
                    state=expected.state,
                    redirect_uri=expected.redirect_uri,
                    # Amazon marks a draft's flow with version=beta on the hop, and the
                    # continuation must carry it on (amazon.md section 3).
                    draft=expected.draft or params.get("version") == "beta",
                    consent_base=expected.consent_base,
                )
            )
        except UnsafeRedirect as exc:
            return Foreign(str(exc))
        except ValueError:
            # urllib's own complaints (a bad IPv6 literal, an out-of-range port, text
            # that cannot be encoded): the same refusal, without echoing the input.
            return Foreign("the Login-URI address (amazon_callback_uri) is malformed")
    state = params.get("state", "")
    if not state:
        return Foreign("the address has no state parameter")
    # Constant-time comparison: state is the login's only secret until the code arrives.
    # surrogatepass: a pasted line read with surrogateescape may carry lone surrogates,
    # which must compare as "wrong", not raise.
    if not hmac.compare_digest(
        state.encode("utf-8", "surrogatepass"), expected.state.encode("utf-8", "surrogatepass")
    ):
        return Foreign("the state parameter does not match this login")
    code = params.get("spapi_oauth_code")
    if code:
        return _authorized(code, params.get("selling_partner_id") or None, expected)
    error = params.get("error", "")
    description = params.get("error_description", "")
    said = ": ".join(part for part in (error, description) if part) or "no authorization code"
    # Amazon's code may come in error, error_description or a parameter of another name.
    known = consent_error_in(params)
    if error == "access_denied":
        return Refused(
            f"Amazon says the authorization was refused ({said})",
            "run the login again and choose Confirm/Approve on Amazon's page",
        )
    if known:
        return consent_error_refusal(known, said)
    return Refused(
        f"Amazon answered without an authorization code ({said})",
        "run the login again; if it repeats, check the app's settings",
    )


def consent_error_refusal(known: ConsentError, said: str | None = None) -> Refused:
    """The end of a login that Amazon answered with a consent error: its cause and the
    fix of amazon.md section 10 (the same words on the browser's page and in the
    terminal)."""
    detail = f" ({said})" if said else ""
    return Refused(
        f"Amazon answered {known.code}: {known.cause}{detail}; nothing was stored",
        f"{known.advice}; then run the login again",
    )


def _authorized(code: str, selling_partner_id: str | None, expected: ExpectedAnswer) -> Verdict:
    """The code, unless ``--expect-seller`` names another account: then a refusal, decided
    here so that the foreign code is never exchanged and nothing is stored."""
    wanted = expected.expected_seller
    if wanted is None or selling_partner_id == wanted:
        return Authorized(code=code, selling_partner_id=selling_partner_id)
    if selling_partner_id is None:
        return Refused(
            f"Amazon's answer does not name the selling partner, so --expect-seller {wanted} "
            "cannot be checked; nothing was stored",
            "run the login again without --expect-seller, then check the selling partner "
            "id it prints",
        )
    return Refused(
        f"Amazon authorized selling partner {selling_partner_id}, but --expect-seller asked "
        f"for {wanted}; nothing was stored",
        f"sign in to Seller Central as {wanted} (or choose that account on Amazon's page) "
        "and run the login again",
    )

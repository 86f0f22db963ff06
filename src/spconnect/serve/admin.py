"""The admin API under ``/admin/v1/`` (docs/serve-api.md, "Admin API"), as plain
functions of parsed JSON: the developer's CLI registers public keys, creates invites,
reads their status and sealed blobs, and says when a blob is pulled or an invite
withdrawn. app.py checks the bearer token before any of these run.

Every field is checked here, strictly (an unknown field is an error, so that a CLI and a
server that disagree on the contract find out at once), and everything is bounded.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from spconnect._version import __version__
from spconnect.amazon import ids
from spconnect.amazon.marketplaces import by_id, central_url, resolve_marketplace
from spconnect.errors import SpconnectError, UsageError
from spconnect.names import is_profile_name
from spconnect.serve import sealing
from spconnect.serve.flow import INVITE_ID, iso, new_invite_id
from spconnect.serve.settings import ServeSettings
from spconnect.serve.storage import (
    CONNECTED,
    EXPIRED,
    FAILED,
    PENDING,
    PULLED,
    REVOKED,
    Invite,
    RecipientKey,
    Storage,
)

STATUSES = (PENDING, CONNECTED, PULLED, EXPIRED, FAILED, REVOKED)
MIN_EXPIRES_IN = 60
MAX_EXPIRES_IN = 30 * 24 * 3600
DEFAULT_EXPIRES_IN = 7 * 24 * 3600
MAX_NOTE_CHARS = 200
MAX_LABEL_CHARS = 100
MAX_LISTED = 1000

Answer = tuple[int, dict[str, Any]]


class AdminError(Exception):
    """A 4xx answer: ``{"error": code, "message": text}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}


def _bad(message: str) -> AdminError:
    return AdminError(400, "bad_request", message)


def _fields(body: object, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise _bad(f"unknown field(s): {', '.join(unknown)[:200]}")
    missing = sorted(required - set(body))
    if missing:
        raise _bad(f"missing field(s): {', '.join(missing)}")
    return body


def _string(body: dict[str, Any], name: str, limit: int, *, optional: bool = False) -> str | None:
    value = body.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _bad(f"{name} must be a string of 1 to {limit} characters")
    return value


def _boolean(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise _bad(f"{name} must be true or false")
    return value


def _printable(text: str) -> bool:
    # A note is shown to the seller and in `invite list`: no control characters beyond
    # line breaks.
    return all(c.isprintable() or c == "\n" for c in text)


class AdminApi:
    def __init__(
        self, settings: ServeSettings, storage: Storage, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.clock = clock

    def now(self) -> int:
        return int(self.clock())

    def info(self) -> Answer:
        s = self.settings
        return 200, {
            "app": s.app_name,
            "display_name": s.shown_name,
            "client_id": s.client_id,
            "app_id": s.app_id,
            "kind": s.kind,
            "public_url": s.public_url,
            "open_enrollment": s.open_enrollment,
            "version": __version__,
        }

    def add_key(self, body: object) -> Answer:
        fields = _fields(body, {"public_key", "label"}, {"public_key"})
        public_key = _string(fields, "public_key", 100)
        assert public_key is not None
        try:
            sealing.check_public_key(public_key)
        except sealing.SealError:
            raise _bad("public_key is not a base64url X25519 public key") from None
        label = _string(fields, "label", MAX_LABEL_CHARS, optional=True)
        if label is not None and not _printable(label):
            raise _bad("label contains control characters")
        # The id follows from the key: registering the same key again answers the same id.
        key_id = "k" + hashlib.sha256(public_key.encode()).hexdigest()[:20]
        self.storage.add_key(RecipientKey(key_id, public_key, label, self.now()))
        return 201, {"key_id": key_id}

    def create_invite(self, body: object) -> Answer:
        fields = _fields(
            body,
            {
                "key_id",
                "profile",
                "marketplace",
                "vendor",
                "expires_in",
                "note",
                "reauth",
                "expected_selling_partner_id",
            },
            {"key_id", "profile", "marketplace"},
        )
        key_id = _string(fields, "key_id", 128)
        assert key_id is not None
        if self.storage.key(key_id) is None:
            raise AdminError(400, "unknown_key", f"no key {key_id!r} is registered")
        profile = _string(fields, "profile", 64)
        if profile is None or not is_profile_name(profile):
            raise _bad("profile is not a profile name (letters, digits, '.', '_', '-')")
        vendor = _boolean(fields, "vendor") or self.settings.kind == "vendor"
        reauth = _boolean(fields, "reauth")
        try:
            marketplace = resolve_marketplace(_string(fields, "marketplace", 32) or "")
            central_url(marketplace, vendor)  # refuses a region, or no Vendor Central
        except UsageError as error:
            raise AdminError(400, "bad_marketplace", str(error)) from None
        expires_in = fields.get("expires_in", DEFAULT_EXPIRES_IN)
        if (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int)
            or not MIN_EXPIRES_IN <= expires_in <= MAX_EXPIRES_IN
        ):
            raise _bad(
                f"expires_in must be whole seconds from {MIN_EXPIRES_IN} to {MAX_EXPIRES_IN}"
            )
        note = _string(fields, "note", MAX_NOTE_CHARS, optional=True)
        if note is not None and not _printable(note):
            raise _bad("note contains control characters")
        expected = _string(fields, "expected_selling_partner_id", 64, optional=True)
        if expected is not None:
            try:
                expected = ids.check_selling_partner_id(expected)
            except SpconnectError as error:
                raise _bad(error.message) from None
        now = self.now()
        invite = Invite(
            id=new_invite_id(),
            key_id=key_id,
            profile=profile,
            marketplace=marketplace.marketplace_id,
            kind="vendor" if vendor else "seller",
            created_at=now,
            expires_at=now + expires_in,
            reauth=reauth,
            expected_selling_partner_id=expected,
            note=note,
        )
        self.storage.add_invite(
            invite,
            "invite_created",
            f"profile {profile}, {marketplace.code}, {invite.kind}{', reauth' if reauth else ''}",
        )
        return 201, self.describe(invite)

    def list_invites(self, status: str | None = None) -> Answer:
        """The newest invites; ``?status=connected`` lists the ones waiting to be pulled
        however many others came after them."""
        if status is not None and status not in STATUSES:
            raise _bad(f"status must be one of {', '.join(STATUSES)}")
        self.storage.expire_due(self.now())
        listed = self.storage.invites(MAX_LISTED, status)
        return 200, {"invites": [self.describe(i) for i in listed]}

    def _invite(self, invite_id: str) -> Invite:
        invite = self.storage.invite(invite_id) if INVITE_ID.fullmatch(invite_id) else None
        if invite is None:
            raise AdminError(404, "not_found", "no such invite")
        if invite.status == PENDING and invite.expires_at <= self.now():
            self.storage.expire_due(self.now())
            invite = self.storage.invite(invite_id) or invite
        return invite

    def get_invite(self, invite_id: str) -> Answer:
        invite = self._invite(invite_id)
        described = self.describe(invite)
        if invite.status == CONNECTED and invite.sealed:
            described["sealed"] = invite.sealed
        return 200, described

    def mark_pulled(self, invite_id: str) -> Answer:
        invite = self._invite(invite_id)
        if invite.status != PULLED and not self.storage.change_status(
            invite.id,
            allowed=(CONNECTED,),
            to=PULLED,
            now=self.now(),
            event="pulled",
            sealed=None,
            pulled_at=self.now(),
        ):
            status = self._invite(invite_id).status
            raise AdminError(409, "not_connected", f"the invite is {status}, not connected")
        return 200, self.describe(self._invite(invite_id))

    def revoke(self, invite_id: str) -> Answer:
        invite = self._invite(invite_id)
        if invite.status != REVOKED and not self.storage.change_status(
            invite.id,
            allowed=(PENDING, CONNECTED, FAILED, EXPIRED),
            to=REVOKED,
            now=self.now(),
            event="revoked",
            sealed=None,
        ):
            raise AdminError(
                409, "already_pulled", "the invite was pulled; its authorization lives in the CLI"
            )
        return 200, self.describe(self._invite(invite_id))

    def describe(self, invite: Invite) -> dict[str, Any]:
        """An invite object (docs/serve-api.md), without the sealed text."""
        marketplace = by_id(invite.marketplace or "")
        return {
            "id": invite.id,
            "url": self.settings.invite_url(invite.id),
            "key_id": invite.key_id,
            "profile": invite.profile,
            "marketplace": marketplace.code if marketplace else None,
            "kind": invite.kind,
            "reauth": invite.reauth,
            "expected_selling_partner_id": invite.expected_selling_partner_id,
            "note": invite.note,
            "status": invite.status,
            "selling_partner_id": invite.selling_partner_id,
            "created_at": iso(invite.created_at),
            "expires_at": iso(invite.expires_at),
            "connected_at": None if invite.connected_at is None else iso(invite.connected_at),
            "failure": invite.failure,
            "open_enrollment": invite.open_enrollment,
        }

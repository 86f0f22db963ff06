"""One exception hierarchy for everything spconnect can fail at.

Each class carries the exit code of the design's table ("Exit codes") and a one-line
hint that tells the user what to run next. Functions under amazon/, consent/ and store/
raise these; only the CLI layer turns them into a message and an exit status.

Messages must never contain a secret. Callers pass identifiers (profile, app, client id)
and Amazon's error text; the CLI additionally runs every line through the redaction
filter, so a mistake here is caught twice.
"""

from __future__ import annotations


class ExitCode:
    """The design's exit codes, the one place they are spelled out."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    NOT_SET_UP = 3
    AUTHORIZATION_REJECTED = 4
    CLIENT_REJECTED = 5
    AMAZON_UNAVAILABLE = 6
    STORAGE_UNAVAILABLE = 7
    LOGIN_INCOMPLETE = 8
    API_ERROR_STATUS = 9
    INTERRUPTED = 130


class SpconnectError(Exception):
    """Base class: a failure the user can act on."""

    exit_code: int = ExitCode.UNEXPECTED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(SpconnectError):
    """Bad flag, malformed id, malformed pasted URL, invalid config file."""

    exit_code = ExitCode.USAGE


class NotSetUp(SpconnectError):
    """Unknown profile or app, or no refresh token stored."""

    exit_code = ExitCode.NOT_SET_UP


class AuthorizationRejected(SpconnectError):
    """LWA answered invalid_grant to a refresh: the seller must authorize again."""

    exit_code = ExitCode.AUTHORIZATION_REJECTED


class ClientRejected(SpconnectError):
    """LWA rejected the app's own credentials (invalid_client, unauthorized_client)."""

    exit_code = ExitCode.CLIENT_REJECTED


class AmazonUnavailable(SpconnectError):
    """Network failure, 5xx or 429 that outlasted the retries."""

    exit_code = ExitCode.AMAZON_UNAVAILABLE


class ServerUnavailable(SpconnectError):
    """The developer's invite server (``spconnect serve``) is unreachable, failing (5xx),
    or answers something that is not its admin API (docs/serve-api.md): exit 6, as for
    Amazon, since the remedy is the same (retry, check the network path)."""

    exit_code = ExitCode.AMAZON_UNAVAILABLE


class StorageUnavailable(SpconnectError):
    """No secure secret store, or the store is locked, hung or refused the value."""

    exit_code = ExitCode.STORAGE_UNAVAILABLE


class LoginIncomplete(SpconnectError):
    """The consent flow did not produce a usable authorization."""

    exit_code = ExitCode.LOGIN_INCOMPLETE


class AmazonRequestRejected(SpconnectError):
    """LWA refused the request as malformed (invalid_request, unsupported_grant_type).

    This is a bug in what was sent, not something the user did, hence exit 1; the message
    says what was sent (without secrets) so that the report is useful.
    """

    exit_code = ExitCode.UNEXPECTED


class ApiErrorStatus(SpconnectError):
    """``spconnect api``: the SP-API answered with an error status.

    ``body`` is Amazon's answer as received (the CLI prints it on stdout, as data), and
    ``head`` its status line and headers (printed with ``-i``); the message is the summary
    with ``x-amzn-RequestId`` (amazon.md section 9).
    """

    exit_code = ExitCode.API_ERROR_STATUS

    def __init__(
        self, message: str, hint: str | None = None, *, body: bytes = b"", head: str = ""
    ) -> None:
        super().__init__(message, hint)
        self.body = body
        self.head = head

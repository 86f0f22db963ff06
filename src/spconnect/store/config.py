"""The non-secret configuration: apps and profiles in ``config.toml``.

Read with tomllib and validated with pydantic (unknown keys, wrong types and malformed
ids fail with the key, the line and the reason: exit 2); the environment variables of the
design are read with pydantic-settings. Written atomically, 0600 in a 0700 directory,
under a lock so that two commands changing the config at once do not lose each other's
change.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from spconnect.amazon import ids
from spconnect.amazon.marketplaces import Region
from spconnect.errors import NotSetUp, UsageError
from spconnect.names import clean_pasted, is_profile_name
from spconnect.store import files, paths
from spconnect.store.cache import DEFAULT_REFRESH_MARGIN

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

CONFIG_FILE = "config.toml"
# The relay page's fallback port (design, "Getting the consent answer back").
DEFAULT_CALLBACK_PORT = 53682
SECRET_ROTATION_DAYS = 180  # amazon.md section 7
AUTHORIZATION_RENEWAL_DAYS = 365  # amazon.md section 6

Storage = Literal["keyring", "file", "env"]


class Environment(BaseSettings):
    """The design's environment variables that the slow path reads.

    ``SPCONNECT_CONFIG_DIR``/``SPCONNECT_CACHE_DIR`` and the three URL overrides are read
    where they are used (store/paths.py, amazon/endpoints.py), because the fast path uses
    them without loading pydantic.
    """

    model_config = SettingsConfigDict(env_prefix="SPCONNECT_", extra="ignore")

    profile: str = "default"
    keyring_service: str = "spconnect"
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None


def _as_field_check(check: Callable[[str], str], value: str) -> str:
    """Run an ids check inside a pydantic validator (which wants ValueError)."""
    try:
        return check(value)
    except UsageError as exc:
        raise ValueError(str(exc)) from None


def _https_uri(value: str, what: str) -> str:
    from urllib.parse import urlsplit

    value = clean_pasted(value)
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError(
            f"{what} must be an https URL (Amazon accepts only https Login and Redirect "
            "URIs); see `spconnect relay-page` for a static page that forwards to this machine"
        )
    if "#" in value:
        raise ValueError(f"{what} must not contain a #fragment (Amazon shows MD5110)")
    return value


class AppConfig(BaseModel):
    """An SP-API application; its client secret lives in the secret store."""

    model_config = ConfigDict(extra="forbid")

    client_id: str
    app_id: str
    redirect_uri: str
    login_uri: str | None = None
    draft: bool = True
    kind: Literal["seller", "vendor"] = "seller"
    callback_port: int = Field(default=DEFAULT_CALLBACK_PORT, ge=1024, le=65535)
    secret_set_at: dt.date | None = None

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        return _as_field_check(ids.check_client_id, value)

    @field_validator("app_id")
    @classmethod
    def _app_id(cls, value: str) -> str:
        return _as_field_check(ids.check_app_id, value)

    @field_validator("redirect_uri")
    @classmethod
    def _redirect(cls, value: str) -> str:
        return _https_uri(value, "redirect_uri")

    @field_validator("login_uri")
    @classmethod
    def _login(cls, value: str | None) -> str | None:
        return None if value is None else _https_uri(value, "login_uri")


class ProfileConfig(BaseModel):
    """One authorized account in one region for one app; its refresh token is secret."""

    model_config = ConfigDict(extra="forbid")

    app: str
    region: Region
    marketplace: str
    selling_partner_id: str | None = None
    authorized_at: dt.datetime | None = None
    sandbox: bool = False

    @field_validator("selling_partner_id")
    @classmethod
    def _sp_id(cls, value: str | None) -> str | None:
        return None if value is None else _as_field_check(ids.check_selling_partner_id, value)

    @field_validator("marketplace")
    @classmethod
    def _marketplace(cls, value: str) -> str:
        from spconnect.amazon.marketplaces import by_id

        if by_id(value) is None:
            raise ValueError(f"{value!r} is not a marketplace id from the catalogue")
        return value


class Config(BaseModel):
    """The whole config file."""

    model_config = ConfigDict(extra="forbid")

    storage: Storage = "keyring"
    token_cache: Literal["file", "keyring"] = "file"
    refresh_margin: int = Field(default=DEFAULT_REFRESH_MARGIN, ge=60, le=1800)
    keyring_timeout: float = Field(default=5.0, gt=0, le=120)
    apps: dict[str, AppConfig] = Field(default_factory=dict)
    profiles: dict[str, ProfileConfig] = Field(default_factory=dict)

    @field_validator("apps", "profiles")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not is_profile_name(name):
                raise ValueError(f"name {name!r} is not allowed (letters, digits, '.', '_', '-')")
        return value

    def app(self, name: str) -> AppConfig:
        try:
            return self.apps[name]
        except KeyError:
            known = ", ".join(sorted(self.apps)) or "none yet"
            raise NotSetUp(
                f"no app named {name!r} (configured: {known})",
                "add it with `spconnect app add NAME --client-id ... --app-id ... "
                "--redirect-uri ...`",
            ) from None

    def profile(self, name: str) -> ProfileConfig:
        try:
            return self.profiles[name]
        except KeyError:
            raise NotSetUp(
                f"profile {name!r} is not logged in",
                f"run `spconnect login -p {name}`",
            ) from None

    def profiles_of_app(self, app_name: str) -> list[str]:
        return sorted(p for p, prof in self.profiles.items() if prof.app == app_name)


def config_path() -> str:
    return os.path.join(paths.config_dir(), CONFIG_FILE)


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """The line in ``text`` that defines the key at ``loc`` (best effort, for messages)."""
    keys = [str(part) for part in loc]
    if not keys:
        return None
    table: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("[") and not line.startswith("[["):
            header = line.strip("[]").strip()
            table = [part.strip().strip("\"'") for part in header.split(".")]
            if table == keys:
                return number
            continue
        key = line.split("=", 1)[0].strip().strip("\"'")
        if "=" in line and [*table, key] == keys[: len(table) + 1] and len(table) < len(keys):
            return number
    # Fall back to the table that holds the key (a missing required key, say).
    return _line_of(text, loc[:-1]) if len(loc) > 1 else None


def parse_config(text: str, source: str) -> Config:
    """Parse and validate config text; problems raise UsageError naming key and line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(
            f"{source} is not valid TOML: {exc}", f"fix the file by hand or remove it ({source})"
        ) from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:5]:
            loc = tuple(error["loc"])
            key = ".".join(str(p) for p in loc) or "(top level)"
            reason = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            reason = reason.removeprefix("Value error, ")
            line = _line_of(text, loc)
            where = f"line {line}: " if line else ""
            problems.append(f"{where}{key}: {reason}")
        raise UsageError(
            f"{source} is invalid:\n  " + "\n  ".join(problems),
            f"fix the file by hand ({source}); `spconnect doctor` checks it",
        ) from None


def load_config() -> Config:
    path = config_path()
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return Config()
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text", "fix or remove the file") from None
    return parse_config(text, path)


def render_config(config: Config) -> str:
    import tomli_w

    data = config.model_dump(exclude_none=True)
    header = (
        "# spconnect configuration: non-secret settings only (secrets live in the\n"
        "# keyring). Edited by spconnect; safe to edit by hand. Unknown keys are errors.\n"
    )
    return header + tomli_w.dumps(data)


def save_config(config: Config) -> None:
    files.write_private(config_path(), render_config(config).encode("utf-8"))


@contextmanager
def editing_config() -> Iterator[Config]:
    """Load, let the caller change, and save the config under an inter-process lock.

    The config is saved only if the block finishes without an exception.
    """
    with files.private_lock(os.path.join(paths.config_dir(), ".config.lock"), timeout=30):
        config = load_config()
        yield config
        save_config(config)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def today_utc() -> dt.date:
    return now_utc().date()

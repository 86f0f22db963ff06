"""The non-secret configuration: apps and profiles in ``config.toml``.

Read with tomllib and validated here, by hand, into plain dataclasses: unknown keys, wrong
types and malformed ids fail with the key, the line and the reason (exit 2). Hand-written
rather than pydantic because a token refresh reads this file on the hot path of shell
scripts, where importing pydantic alone would cost more than the whole refresh is allowed
(issue 7: no Typer, Rich, questionary or pydantic on the refresh path); every command, the
refresh included, validates the file with these same rules, so a mistyped key breaks them
all alike. Written atomically, 0600 in a 0700 directory, under a lock so that two commands
changing the config at once do not lose each other's change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from spconnect.amazon import ids
from spconnect.amazon.marketplaces import Region
from spconnect.errors import NotSetUp, UsageError
from spconnect.names import clean_pasted, is_profile_name, is_visible_ascii
from spconnect.store import envvars, files, paths
from spconnect.store.cache import DEFAULT_REFRESH_MARGIN

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

CONFIG_FILE = "config.toml"
# A config with a hundred apps and profiles is a few tens of KiB.
MAX_CONFIG_BYTES = 1024 * 1024
# The relay page's fallback port (design, "Getting the consent answer back").
DEFAULT_CALLBACK_PORT = 53682
SECRET_ROTATION_DAYS = 180  # amazon.md section 7
AUTHORIZATION_RENEWAL_DAYS = 365  # amazon.md section 6

Storage = Literal["keyring", "file", "env"]
STORAGES = ("keyring", "file", "env")
TOKEN_CACHES = ("file", "keyring")
APP_KINDS = ("seller", "vendor")
REGIONS = ("na", "eu", "fe")


@dataclass(frozen=True)
class Environment:
    """The design's environment variables that the slow path reads.

    ``SPCONNECT_CONFIG_DIR``/``SPCONNECT_CACHE_DIR`` and the three URL overrides are read
    where they are used (store/paths.py, amazon/endpoints.py), because the fast path uses
    them without loading this module; secrets are read by store/envvars.py, when needed.
    """

    profile: str = "default"
    keyring_service: str = "spconnect"

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> Environment:
        source = os.environ if environ is None else environ
        return cls(
            profile=source.get("SPCONNECT_PROFILE") or "default",
            keyring_service=source.get("SPCONNECT_KEYRING_SERVICE") or "spconnect",
        )


# -- field checks: each takes the raw value and returns it cleaned, or raises ValueError
# with the reason a person reads after "line N: key: ".

Check = Callable[[Any], Any]


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_type_name(value)}")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {_type_name(value)}")
    return value


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names.update({dict: "a table", list: "an array"})
    return names.get(type(value), type(value).__name__)


def _number_between(low: float, high: float, *, integer: bool, low_open: bool = False) -> Check:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
            what = "a whole number" if integer else "a number"
            raise ValueError(f"must be {what}, not {_type_name(value)}")
        number = float(value)
        if (number <= low if low_open else number < low) or number > high:
            bound = f"more than {low:g}" if low_open else f"at least {low:g}"
            raise ValueError(f"must be {bound} and at most {high:g} (got {number:g})")
        return value if integer else number

    return check


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str:
        if value not in choices:
            listed = ", ".join(repr(c) for c in choices)
            raise ValueError(f"{value!r} is not one of {listed}")
        return str(value)

    return check


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be a date (YYYY-MM-DD)")


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be a date and time (YYYY-MM-DDTHH:MM:SSZ)") from None
    else:
        raise ValueError("must be a date and time (YYYY-MM-DDTHH:MM:SSZ)")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _id_check(check: Callable[[str], str]) -> Check:
    def run(value: Any) -> str:
        try:
            return check(_string(value))
        except UsageError as exc:
            raise ValueError(str(exc)) from None

    return run


def _https_uri(what: str) -> Check:
    def check(value: Any) -> str:
        from urllib.parse import urlsplit

        uri = clean_pasted(_string(value))
        try:
            parts = urlsplit(uri)
        except ValueError:
            parts = None
        if parts is None or parts.scheme != "https" or not parts.netloc:
            raise ValueError(
                f"{what} must be an https URL (Amazon accepts only https Login and Redirect "
                "URIs); see `spconnect relay-page` for a static page that forwards to this "
                "machine"
            )
        if "#" in uri:
            raise ValueError(f"{what} must not contain a #fragment (Amazon shows MD5110)")
        return uri

    return check


# -- the invite server's addresses (issue 11): where the CLI reaches its admin API, and
# the origin sellers see. Checked here so that a hand-edited file meets the same rules
# as `spconnect server add`.

MAX_URL_LENGTH = 2048
MAX_SERVER_APP_NAME = 200
_KEY_ID_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-")


def is_loopback_host(host: str) -> bool:
    """An IP literal of the loopback range, or ``localhost`` (RFC 6761 section 6.3
    reserves it for loopback)."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an invite server's address, or None.

    https, or plain http to a loopback address only: the admin token travels in every
    request, and an invite link sent in clear could be rewritten on the way.
    """
    from urllib.parse import urlsplit

    if not url or len(url) > MAX_URL_LENGTH or not is_visible_ascii(url):
        return "must be one URL of visible characters (no spaces), at most 2048 long"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an https URL, such as https://invites.example.com"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password"
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return "must not have a query (?...) or a #fragment"
    if parts.path.rstrip("/").endswith(("/admin", "/admin/v1")):
        return (
            "ends in the admin API's own path; give the server's address without it "
            "(spconnect adds /admin/v1/…), such as https://invites.example.com"
        )
    if parts.scheme == "http" and not is_loopback_host(host):
        return (
            f"is plain http to {host}, which is not a loopback address: the admin token "
            "and the invites would cross the network unencrypted; use https (plain http "
            "is allowed for 127.0.0.1, ::1 and localhost only, such as an SSH tunnel)"
        )
    return None


def _server_url(value: Any) -> str:
    url = clean_pasted(_string(value)).rstrip("/")
    problem = server_url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    return url


def _key_id(value: Any) -> str:
    text = _string(value)
    if not 0 < len(text) <= 128 or not all(c in _KEY_ID_CHARACTERS for c in text):
        raise ValueError("must be the key id the server gave (letters, digits, '._:-')")
    return text


def _display_name(value: Any) -> str:
    from spconnect.redaction import strip_controls

    text = _string(value)
    if not text.strip() or len(text) > MAX_SERVER_APP_NAME or strip_controls(text) != text:
        raise ValueError(
            f"must be a name of 1 to {MAX_SERVER_APP_NAME} characters without control characters"
        )
    return text


def _marketplace_id(value: Any) -> str:
    from spconnect.amazon.marketplaces import by_id

    if by_id(_string(value)) is None:
        raise ValueError(f"{value!r} is not a marketplace id from the catalogue")
    return str(value)


def _optional(check: Check) -> Check:
    def run(value: Any) -> Any:
        return None if value is None else check(value)

    return run


_REQUIRED = object()


@dataclass(frozen=True)
class _Field:
    check: Check
    default: Any = _REQUIRED


class ConfigProblems(ValueError):
    """Every problem found in one pass: (location, reason) pairs."""

    def __init__(self, problems: list[tuple[tuple[str, ...], str]]) -> None:
        super().__init__("; ".join(f"{'.'.join(loc)}: {why}" for loc, why in problems))
        self.problems = problems


def _validated(
    schema: dict[str, _Field], data: Any, loc: tuple[str, ...], problems: list[Any]
) -> dict[str, Any] | None:
    """Check ``data`` against ``schema``; record problems, return the cleaned fields."""
    if not isinstance(data, dict):
        problems.append((loc, f"must be a table, not {_type_name(data)}"))
        return None
    cleaned: dict[str, Any] = {}
    for key in data:
        if key not in schema:
            problems.append(((*loc, str(key)), "unknown key"))
    for key, spec in schema.items():
        if key not in data:
            if spec.default is _REQUIRED:
                problems.append(((*loc, key), "required key is missing"))
            continue
        try:
            cleaned[key] = spec.check(data[key])
        except ValueError as exc:
            problems.append(((*loc, key), str(exc)))
    return cleaned


def _instance(cls: type[Any], schema: dict[str, _Field], cleaned: dict[str, Any]) -> Any:
    """An instance of a config dataclass from already-checked fields (no second check)."""
    instance = object.__new__(cls)
    for key, spec in schema.items():
        default = dict(spec.default) if isinstance(spec.default, dict) else spec.default
        object.__setattr__(instance, key, cleaned.get(key, default))
    return instance


def _build(cls: type[Any], schema: dict[str, _Field], fields: dict[str, Any]) -> Any:
    """Check raw fields and construct ``cls``, raising ConfigProblems (a ValueError)."""
    problems: list[tuple[tuple[str, ...], str]] = []
    cleaned = _validated(schema, fields, (), problems)
    if problems or cleaned is None:
        raise ConfigProblems(problems)
    return _instance(cls, schema, cleaned)


def _check_after_init(instance: Any, schema: dict[str, _Field]) -> None:
    fields = {f.name: getattr(instance, f.name) for f in dataclasses.fields(instance)}
    problems: list[tuple[tuple[str, ...], str]] = []
    cleaned = _validated(schema, fields, (), problems)
    if problems or cleaned is None:
        raise ConfigProblems(problems)
    for key, value in cleaned.items():
        object.__setattr__(instance, key, value)


_APP_SCHEMA: dict[str, _Field] = {
    "client_id": _Field(_id_check(ids.check_client_id)),
    "app_id": _Field(_id_check(ids.check_app_id)),
    "redirect_uri": _Field(_https_uri("redirect_uri")),
    "login_uri": _Field(_optional(_https_uri("login_uri")), None),
    "draft": _Field(_boolean, True),
    "kind": _Field(_one_of(*APP_KINDS), "seller"),
    "callback_port": _Field(_number_between(1024, 65535, integer=True), DEFAULT_CALLBACK_PORT),
    "secret_set_at": _Field(_optional(_date), None),
}

_PROFILE_SCHEMA: dict[str, _Field] = {
    "app": _Field(_string),
    "region": _Field(_one_of(*REGIONS)),
    "marketplace": _Field(_marketplace_id),
    "selling_partner_id": _Field(_optional(_id_check(ids.check_selling_partner_id)), None),
    "authorized_at": _Field(_optional(_datetime), None),
    "self_authorized": _Field(_optional(_boolean), None),
    "sandbox": _Field(_boolean, False),
}


_SERVER_SCHEMA: dict[str, _Field] = {
    "url": _Field(_server_url),
    "key_id": _Field(_key_id),
    "public_url": _Field(_server_url),
    "client_id": _Field(_id_check(ids.check_client_id)),
    "app": _Field(_display_name),
    "added_at": _Field(_datetime),
}


@dataclass
class AppConfig:
    """An SP-API application; its client secret lives in the secret store.

    Constructing one validates it (ValueError naming the field), as reading the file does.
    """

    client_id: str
    app_id: str
    redirect_uri: str
    login_uri: str | None = None
    draft: bool = True
    kind: Literal["seller", "vendor"] = "seller"
    callback_port: int = DEFAULT_CALLBACK_PORT
    secret_set_at: dt.date | None = None

    def __post_init__(self) -> None:
        _check_after_init(self, _APP_SCHEMA)

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> AppConfig:
        """Build from a mapping of field names (unknown names are problems too)."""
        app: AppConfig = _build(cls, _APP_SCHEMA, fields)
        return app


@dataclass
class ProfileConfig:
    """One authorized account in one region for one app; its refresh token is secret."""

    app: str
    region: Region
    marketplace: str
    selling_partner_id: str | None = None
    authorized_at: dt.datetime | None = None
    # How the refresh token came: True when generated in Seller Central for a private app
    # (amazon.md section 8), False through the consent page; None in configs written
    # before it was recorded (then: self-authorized when no selling partner id is known).
    self_authorized: bool | None = None
    sandbox: bool = False

    def __post_init__(self) -> None:
        _check_after_init(self, _PROFILE_SCHEMA)

    @property
    def is_self_authorized(self) -> bool:
        if self.self_authorized is not None:
            return self.self_authorized
        return self.selling_partner_id is None


@dataclass
class ServerConfig:
    """An invite server this CLI is paired with (``spconnect server add``, issue 11); its
    admin token and the private key that opens what it seals live in the secret store.

    ``url`` is where the CLI reaches the admin API, ``public_url`` the origin sellers see
    (they differ behind a firewall or a tunnel); ``client_id`` and ``app`` are the app the
    server reported when it was paired; ``key_id`` names this CLI's public key there.
    """

    url: str
    key_id: str
    public_url: str
    client_id: str
    app: str
    added_at: dt.datetime

    def __post_init__(self) -> None:
        _check_after_init(self, _SERVER_SCHEMA)


def unknown_profile(name: str, known: Iterable[str]) -> NotSetUp:
    """The error for a profile that is not configured; a close name is suggested first,
    as git does for a mistyped command (`-p defualt`: "did you mean 'default'?")."""
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    if close:
        return NotSetUp(
            f"profile {name!r} is not logged in; did you mean {close[0]!r}?",
            f"use `-p {close[0]}`; or, to log in a new profile, `spconnect login -p {name}`",
        )
    return NotSetUp(f"profile {name!r} is not logged in", f"run `spconnect login -p {name}`")


def _tables(value: Any) -> dict[str, Any]:
    """``[apps.NAME]`` / ``[profiles.NAME]``: a table of tables, each checked in
    ``validate_config_data`` so that its problems carry their own location."""
    if not isinstance(value, dict):
        raise ValueError(f"must be a table, not {_type_name(value)}")
    return value


_CONFIG_SCHEMA: dict[str, _Field] = {
    "storage": _Field(_one_of(*STORAGES), "keyring"),
    "token_cache": _Field(_one_of(*TOKEN_CACHES), "file"),
    "refresh_margin": _Field(_number_between(60, 1800, integer=True), DEFAULT_REFRESH_MARGIN),
    "keyring_timeout": _Field(_number_between(0, 120, integer=False, low_open=True), 5.0),
    "apps": _Field(_tables, {}),
    "profiles": _Field(_tables, {}),
    "servers": _Field(_tables, {}),
}


@dataclass
class Config:
    """The whole config file."""

    storage: Storage = "keyring"
    token_cache: Literal["file", "keyring"] = "file"
    refresh_margin: int = DEFAULT_REFRESH_MARGIN
    keyring_timeout: float = 5.0
    apps: dict[str, AppConfig] = field(default_factory=dict)
    profiles: dict[str, ProfileConfig] = field(default_factory=dict)
    servers: dict[str, ServerConfig] = field(default_factory=dict)

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
            raise unknown_profile(name, self.profiles) from None

    def server(self, name: str) -> ServerConfig:
        try:
            return self.servers[name]
        except KeyError:
            known = ", ".join(sorted(self.servers)) or "none yet"
            raise NotSetUp(
                f"no invite server named {name!r} (paired: {known})",
                "pair one with `spconnect server add NAME --url URL --token-stdin`",
            ) from None

    def profiles_of_app(self, app_name: str) -> list[str]:
        return sorted(p for p, prof in self.profiles.items() if prof.app == app_name)

    def to_data(self) -> dict[str, Any]:
        """The config as TOML-ready data, without unset (None) values."""

        def clean(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items() if v is not None}
            return value

        data: dict[str, Any] = clean(dataclasses.asdict(self))
        if not self.servers:
            # A config of someone who never paired an invite server stays as it was.
            del data["servers"]
        return data


def validate_config_data(data: Any) -> Config:
    """Validate parsed TOML; raise ConfigProblems listing every problem with its key."""
    problems: list[tuple[tuple[str, ...], str]] = []
    top = _validated(_CONFIG_SCHEMA, data, (), problems)
    if top is None:
        raise ConfigProblems(problems)
    tables: dict[str, dict[str, Any]] = {"apps": {}, "profiles": {}, "servers": {}}
    for section, (kind, schema) in {
        "apps": (AppConfig, _APP_SCHEMA),
        "profiles": (ProfileConfig, _PROFILE_SCHEMA),
        "servers": (ServerConfig, _SERVER_SCHEMA),
    }.items():
        for name, table in top.get(section, {}).items():
            loc = (section, str(name))
            if not is_profile_name(str(name)):
                problems.append(
                    (loc, f"name {name!r} is not allowed (letters, digits, '.', '_', '-')")
                )
                continue
            before = len(problems)
            cleaned = _validated(schema, table, loc, problems)
            if cleaned is not None and len(problems) == before:
                tables[section][str(name)] = _instance(kind, schema, cleaned)
    if problems:
        raise ConfigProblems(problems)
    return Config(
        storage=top.get("storage", "keyring"),
        token_cache=top.get("token_cache", "file"),
        refresh_margin=top.get("refresh_margin", DEFAULT_REFRESH_MARGIN),
        keyring_timeout=top.get("keyring_timeout", 5.0),
        apps=tables["apps"],
        profiles=tables["profiles"],
        servers=tables["servers"],
    )


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
    except RecursionError:
        raise UsageError(
            f"{source} is not a spconnect config: its values are nested too deeply",
            f"fix the file by hand or remove it ({source})",
        ) from None
    try:
        return validate_config_data(data)
    except ConfigProblems as exc:
        problems = []
        for loc, reason in exc.problems[:5]:
            key = ".".join(loc) or "(top level)"
            line = _line_of(text, loc)
            where = f"line {line}: " if line else ""
            problems.append(f"{where}{key}: {reason}")
        raise UsageError(
            f"{source} is invalid:\n  " + "\n  ".join(problems),
            f"fix the file by hand ({source}); `spconnect doctor` checks it",
        ) from None


ZERO_CONFIG_APP = envvars.ZERO_CONFIG_APP


class ZeroConfig(Config):
    """Zero-config mode (store/envvars.py): no config file, and SPCONNECT_CLIENT_ID,
    SPCONNECT_REGION plus the two secrets in the environment. Every valid profile name is
    a profile of the one app those variables describe; secrets come from the environment.
    Only what a token needs is known (no application id, no redirect URI): the commands
    that use it are ``token``, ``api`` and ``exec``, never those that write config.
    """

    def profile(self, name: str) -> ProfileConfig:
        if name not in self.profiles and is_profile_name(name):
            self.profiles[name] = dataclasses.replace(self.profiles["default"])
        return super().profile(name)


def zero_config() -> ZeroConfig | None:
    """The config that the environment alone describes, or None without SPCONNECT_CLIENT_ID."""
    from spconnect.amazon.marketplaces import resolve_marketplace
    from spconnect.store import envvars

    client_id = os.environ.get(envvars.CLIENT_ID)
    if not client_id:
        return None
    try:
        client_id = ids.check_client_id(client_id)
    except UsageError as error:
        raise UsageError(f"{envvars.CLIENT_ID}: {error.message}", error.hint) from None
    region = (os.environ.get(envvars.REGION) or "").strip().lower()
    if region not in REGIONS:
        raise UsageError(
            f"{envvars.REGION} must be na, eu or fe in zero-config mode "
            f"(it is {os.environ.get(envvars.REGION)!r})",
            f"set {envvars.REGION}, or describe the app in a config file (`spconnect app add`)",
        )
    # No application id or redirect URI is known: nothing here can start a consent flow.
    app = _instance(
        AppConfig, _APP_SCHEMA, {"client_id": client_id, "app_id": "", "redirect_uri": ""}
    )
    marketplace = resolve_marketplace(region)  # the region's default marketplace
    default = ProfileConfig(
        app=ZERO_CONFIG_APP, region=marketplace.region, marketplace=marketplace.marketplace_id
    )
    return ZeroConfig(storage="env", apps={ZERO_CONFIG_APP: app}, profiles={"default": default})


def load_config(*, allow_zero_config: bool = False) -> Config:
    """The config file; with ``allow_zero_config`` and no file, the environment's."""
    path = config_path()
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return (zero_config() if allow_zero_config else None) or Config()
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text", "fix or remove the file") from None
    except OSError as exc:
        # A directory in its place, no permission, an I/O error: exit 2 naming the file,
        # as for any other config problem, never a traceback (issue 8, section 6).
        raise UsageError(
            f"cannot read {path}: {exc.strerror or exc}", "check the file and its permissions"
        ) from None
    if len(text) > MAX_CONFIG_BYTES:
        raise UsageError(f"{path} is over {MAX_CONFIG_BYTES // 1024} KiB", "is it the right file?")
    return parse_config(text, path)


def render_config(config: Config) -> str:
    import tomli_w

    data = config.to_data()
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

"""Where secrets live: the OS keyring, or by explicit choice a 0600 file or the environment.

Usernames in the store are ``app:<name>`` (client secret) and ``profile:<name>`` (refresh
token) under the service ``spconnect`` (``SPCONNECT_KEYRING_SERVICE`` overrides); an
invite server paired with this CLI adds ``server-token:<name>`` (its admin token) and
``server-key:<name>`` (the private key that opens what it seals).

No silent plaintext: keyring's fail, null and plaintext backends are refused with exit 7
and the three ways out (design, "Files and storage"). Every keyring call runs with a
timeout, because a locked collection or a hung D-Bus service otherwise blocks forever.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar

from spconnect.errors import StorageUnavailable, UsageError
from spconnect.redaction import redact, register_secret
from spconnect.store import envvars, files, paths

if TYPE_CHECKING:
    from filelock import FileLock

T = TypeVar("T")

SECRETS_FILE = "secrets.json"
# Windows Credential Manager: CRED_MAX_CREDENTIAL_BLOB_SIZE is 5 * 512 bytes, and keyring
# stores the password as UTF-16 (2 bytes per character here).
WINDOWS_MAX_BLOB_BYTES = 2560

WAYS_OUT = (
    "choose one: run a Secret Service (`spconnect doctor` prints the commands), "
    "or opt into a 0600 file with --insecure-storage, "
    'or set storage = "env" in config.toml and supply SPCONNECT_CLIENT_SECRET / '
    "SPCONNECT_REFRESH_TOKEN (the usual choice in CI)"
)


def app_key(name: str) -> str:
    return f"app:{name}"


def profile_key(name: str) -> str:
    return f"profile:{name}"


def token_cache_key(name: str) -> str:
    return f"cache:{name}"


def admin_token_key(server: str) -> str:
    """An invite server's admin token (``spconnect server add``, issue 11)."""
    return f"server-token:{server}"


def private_key_key(server: str) -> str:
    """The X25519 private key that opens what an invite server sealed (issue 11)."""
    return f"server-key:{server}"


class SecretStore(Protocol):
    kind: str  # "keyring", "file" or "env"
    description: str  # what a person calls it: "Secret Service", "file ...", ...
    secure: bool
    writable: bool

    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str) -> None: ...
    def delete(self, key: str) -> bool: ...


# Opening the keyring (`keyring.get_keyring()`: backend discovery, imports, the D-Bus
# handshake) took up to 5.1 s of wall time on the 2-core build machine when 50 processes
# started at once, nearly all of it waiting for a CPU, not for the keyring (issue 7;
# benchmarks/token_speed.py prints the figure). The refresh lock now lets one process at a
# time open it; beyond that, a timeout must tell a busy machine from a locked or hung
# keyring. So halfway through the timeout a still-unanswered call asks the Secret Service
# itself (one D-Bus property read, no prompt): locked fails at once; unlocked and answering
# means the call is slow, not stuck, and it gets up to BUSY_GRACE x the timeout; no answer
# fails at the timeout as hung.
BUSY_GRACE = 4.0
_UNLOCK_HINT = (
    "unlock it (log in graphically, or `gnome-keyring-daemon --unlock` reading the password "
    "from stdin); `spconnect doctor` shows how"
)
SECRET_SERVICE_PROBE_SECONDS = 2.0


def secret_service_state() -> str:
    """What the Secret Service says of itself, without prompting: "unlocked", "locked",
    "no session" (no D-Bus session bus), "absent" (nothing answers on the bus) or
    "error: ..." (Linux and other freedesktop systems; elsewhere "absent")."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return "no session"
    try:
        import secretstorage

        connection = secretstorage.dbus_init()
        try:
            if not secretstorage.check_service_availability(connection):
                return "absent"
            locked = secretstorage.get_default_collection(connection).is_locked()
            return "locked" if locked else "unlocked"
        finally:
            connection.close()
    except ImportError:
        return "absent"
    except Exception as error:
        return redact(f"error: {type(error).__name__}: {error}")


def _probe_secret_service(timeout: float) -> str | None:
    """``secret_service_state()`` within ``timeout`` seconds; None when it did not answer."""
    box: list[str] = []
    probe = threading.Thread(
        target=lambda: box.append(secret_service_state()), name="spconnect-probe", daemon=True
    )
    probe.start()
    probe.join(timeout)
    return box[0] if box else None


def run_with_timeout(
    func: Callable[[], T], timeout: float, what: str, *, secret_service: bool = False
) -> T:
    """Run a keyring call in a daemon thread; give up with exit 7 after ``timeout``.

    ``secret_service``: the call goes to the Secret Service, which can then be asked
    whether it is locked or merely slow (see BUSY_GRACE above).
    """
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="spconnect-keyring", daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(timeout / 2 if secret_service else timeout)
    if thread.is_alive() and secret_service:
        state = _probe_secret_service(min(SECRET_SERVICE_PROBE_SECONDS, timeout / 2))
        if state == "locked":
            raise StorageUnavailable(
                f"the keyring is locked ({what} is waiting for a password)", _UNLOCK_HINT
            )
        busy = state == "unlocked"
        thread.join(max(0.0, started + timeout * (BUSY_GRACE if busy else 1) - time.monotonic()))
        if thread.is_alive() and busy:
            raise StorageUnavailable(
                f"the keyring is unlocked and answering, but {what} took over "
                f"{timeout * BUSY_GRACE:g} s: this machine is very busy",
                f"try again, or raise keyring_timeout in config.toml (now {timeout:g} s)",
            )
    if thread.is_alive():
        raise StorageUnavailable(
            f"the keyring did not answer within {timeout:g} s ({what})",
            "it may be locked and waiting for a password, or hung; run `spconnect doctor`",
        )
    if "error" in box:
        error = box["error"]
        if isinstance(error, StorageUnavailable):
            raise error
        assert isinstance(error, BaseException)
        detail = redact(f"{type(error).__name__}: {error}")
        if type(error).__name__ == "KeyringLocked":
            # A locked collection and no one to type the password (no desktop prompt).
            raise StorageUnavailable(f"the keyring is locked ({what}): {detail}", _UNLOCK_HINT)
        raise StorageUnavailable(
            f"the keyring failed ({what}): {detail}",
            "is it unlocked? run `spconnect doctor`",
        ) from None
    return box["value"]  # type: ignore[return-value]


def describe_backend(backend: object) -> tuple[str, bool]:
    """A person's name for a keyring backend and whether it keeps secrets safe."""
    cls = type(backend)
    module, name = cls.__module__, cls.__name__
    if module.startswith("keyring.backends.chainer"):
        inner = getattr(backend, "backends", [])
        if not inner:
            return "no keyring backend", False
        return describe_backend(inner[0])
    if module.startswith(("keyring.backends.fail", "keyring.backends.null")):
        return "no keyring backend", False
    if "plaintext" in name.lower() or module.startswith("keyrings.alt"):
        return f"plaintext keyring ({module}.{name})", False
    known = {
        "keyring.backends.SecretService": "Secret Service",
        "keyring.backends.libsecret": "Secret Service (libsecret)",
        "keyring.backends.macOS": "macOS Keychain",
        "keyring.backends.Windows": "Windows Credential Manager",
        "keyring.backends.kwallet": "KWallet",
    }
    for prefix, label in known.items():
        if module.startswith(prefix):
            return label, True
    return f"{module}.{name}", True


def check_secret_size(description: str, key: str, value: str) -> None:
    """Refuse, with an explanation, a secret the backend cannot hold."""
    if description != "Windows Credential Manager":
        return
    size = len(value.encode("utf-16-le"))
    if size > WINDOWS_MAX_BLOB_BYTES:
        raise StorageUnavailable(
            f"the secret for {key} is {size} bytes as stored by Windows Credential Manager, "
            f"which holds at most {WINDOWS_MAX_BLOB_BYTES} bytes per entry",
            'use storage = "env" with SPCONNECT_REFRESH_TOKEN, or --insecure-storage',
        )


def _on_freedesktop() -> bool:
    # Where keyring's default is the Secret Service and no other backend was forced.
    return sys.platform.startswith(("linux", "freebsd")) and not os.environ.get(
        "PYTHON_KEYRING_BACKEND"
    )


def _is_secret_service(backend: object) -> bool:
    try:
        from keyring.backends.SecretService import Keyring as SecretServiceKeyring
    except ImportError:  # pragma: no cover - keyring always ships it
        return False
    if isinstance(backend, SecretServiceKeyring):
        return True
    inner: list[object] = list(getattr(backend, "backends", None) or [])  # a ChainerBackend
    return bool(inner) and isinstance(inner[0], SecretServiceKeyring)


class KeyringStore:
    kind = "keyring"
    writable = True

    def __init__(self, service: str, timeout: float) -> None:
        self.service = service
        self.timeout = timeout
        import keyring

        # Opening: whichever backend comes out, a healthy Secret Service means "slow".
        backend = run_with_timeout(
            keyring.get_keyring, timeout, "opening the keyring", secret_service=_on_freedesktop()
        )
        self.description, self.secure = describe_backend(backend)
        self._secret_service = _is_secret_service(backend)
        if not self.secure:
            raise StorageUnavailable(
                f"no secure secret storage is available ({self.description})", WAYS_OUT
            )
        self._backend = backend

    def get(self, key: str) -> str | None:
        value: str | None = run_with_timeout(
            lambda: self._backend.get_password(self.service, key),
            self.timeout,
            f"reading {key}",
            secret_service=self._secret_service,
        )
        register_secret(value)
        return value

    def set(self, key: str, value: str) -> None:
        register_secret(value)
        check_secret_size(self.description, key, value)
        run_with_timeout(
            lambda: self._backend.set_password(self.service, key, value),
            self.timeout,
            f"writing {key}",
            secret_service=self._secret_service,
        )

    def delete(self, key: str) -> bool:
        from keyring.errors import PasswordDeleteError

        def remove() -> bool:
            try:
                self._backend.delete_password(self.service, key)
            except PasswordDeleteError:
                return False
            return True

        return run_with_timeout(
            remove, self.timeout, f"deleting {key}", secret_service=self._secret_service
        )


class FileStore:
    """``storage = "file"``: a 0600 JSON file beside the config. Chosen explicitly only."""

    kind = "file"
    secure = False
    writable = True

    def __init__(self, path: str | None = None) -> None:
        self.path = path or os.path.join(paths.config_dir(), SECRETS_FILE)
        self.description = f"file {self.path} (0600, not encrypted)"

    def _load(self) -> dict[str, str]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StorageUnavailable(
                f"cannot read the secrets file {self.path}: {exc.strerror or exc}",
                "check the file and its permissions",
            ) from None
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise StorageUnavailable(
                f"{self.path} is not a valid secrets file", "restore or remove it"
            ) from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise StorageUnavailable(f"{self.path} is not a valid secrets file", "restore it")
        for value in data.values():
            register_secret(value)
        return data

    def _save(self, data: dict[str, str]) -> None:
        files.write_private(self.path, json.dumps(data, indent=2, sort_keys=True).encode())

    def _locked(self) -> FileLock:
        return files.private_lock(self.path + ".lock", timeout=30)

    def get(self, key: str) -> str | None:
        return self._load().get(key)

    def set(self, key: str, value: str) -> None:
        register_secret(value)
        with self._locked():
            data = self._load()
            data[key] = value
            self._save(data)

    def delete(self, key: str) -> bool:
        with self._locked():
            data = self._load()
            if key not in data:
                return False
            del data[key]
            self._save(data)
        return True


class EnvStore:
    """``storage = "env"``: read-only secrets from the environment (CI); store/envvars.py
    names the variables."""

    kind = "env"
    secure = True
    writable = False

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self.description = envvars.describe()

    def get(self, key: str) -> str | None:
        if key.startswith("app:"):
            value = envvars.client_secret(self._environ)
        elif key.startswith("profile:"):
            value = envvars.refresh_token(key.removeprefix("profile:"), self._environ)
        else:
            return None
        register_secret(value)
        return value

    def set(self, key: str, value: str) -> None:
        register_secret(value)
        if key.startswith("app:"):
            variable = envvars.CLIENT_SECRET
        elif key.startswith("profile:"):
            variable = envvars.refresh_token_variable(key.removeprefix("profile:"))
        else:  # an invite server's token or key: no variable holds those
            raise UsageError(
                f'storage = "env" is read-only: spconnect cannot store {key}',
                'keep it in the keyring (storage = "keyring" in config.toml) or, '
                "explicitly, in a 0600 file (--insecure-storage)",
            )
        raise UsageError(
            f'storage = "env" is read-only: spconnect cannot store {key}',
            f"set {variable} in the environment instead, or change storage in config.toml",
        )

    def delete(self, key: str) -> bool:
        return False


def open_store(storage: str, *, service: str, timeout: float) -> SecretStore:
    if storage == "file":
        return FileStore()
    if storage == "env":
        return EnvStore()
    return KeyringStore(service, timeout)

"""What a command works with: the config, the environment, the secret store and the LWA
client, each opened on first use so that a command pays only for what it touches."""

from __future__ import annotations

from spconnect.amazon.lwa import LwaClient
from spconnect.store.config import Config, Environment, load_config
from spconnect.store.secrets import SecretStore, open_store


class Workspace:
    def __init__(
        self,
        env: Environment | None = None,
        lwa: LwaClient | None = None,
        *,
        zero_config: bool = False,
    ) -> None:
        """``zero_config``: with no config file, take the app and profile from the
        environment (store/config.py, ZeroConfig); only for commands that use a token."""
        self.env = env or Environment.from_environ()
        self._zero_config = zero_config
        self._config: Config | None = None
        self._store: SecretStore | None = None
        self._lwa = lwa

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(allow_zero_config=self._zero_config)
        return self._config

    def use_config(self, config: Config) -> None:
        """Adopt a config just saved by this process (after ``editing_config``)."""
        if self._store is not None and config.storage != self.config.storage:
            self._store = None
        self._config = config

    @property
    def secrets(self) -> SecretStore:
        if self._store is None:
            self._store = open_store(
                self.config.storage,
                service=self.env.keyring_service,
                timeout=self.config.keyring_timeout,
            )
        return self._store

    @property
    def lwa(self) -> LwaClient:
        if self._lwa is None:
            self._lwa = LwaClient()
        return self._lwa

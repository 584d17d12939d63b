"""What every service shares: the config, one store, one bus, and the domain objects over them."""

from __future__ import annotations

import logging
import sys
from functools import cached_property

from appliance import config as config_module
from appliance.action_requests import ActionRequests
from appliance.auth import Credentials, Htpasswd
from appliance.bus import Bus, BusError
from appliance.config import Config
from appliance.content import Registrar
from appliance.datastore.crypto import CryptoError, CryptoKey, create_key_file, read_key
from appliance.datastore.keys import Keys
from appliance.executions import Executions
from appliance.private_files import private_file
from appliance.store import Store, StoreError, open_store
from appliance.triggers import Dispatcher

LOG = logging.getLogger(__name__)

# What a bad setting raises when a service opens its store, bus or key: one line, then exit.
STARTUP_ERRORS = (StoreError, BusError, CryptoError, OSError)


class Context:
    def __init__(self, config: Config):
        self.config = config

    @cached_property
    def store(self) -> Store:
        return open_store(self.config)

    @cached_property
    def bus(self) -> Bus:
        return Bus(self.config.get("messaging", "url"), self.config.get("messaging", "prefix"))

    @cached_property
    def crypto_key(self) -> CryptoKey:
        """The datastore key, which also seals secret parameters; made on first use if missing."""
        path = self.config.encryption_key_path
        create_key_file(path)
        return read_key(path)

    @cached_property
    def executions(self) -> Executions:
        return Executions(self.store, self.bus, self.config.get("webui", "webui_base_url"), self.crypto_key)

    @cached_property
    def keys(self) -> Keys:
        """The datastore (`st2 key ...`, `{{ st2kv... }}`)."""
        return Keys(self.store, self.crypto_key, on_change=self.triggers.dispatch)

    @cached_property
    def triggers(self) -> Dispatcher:
        """What dispatches triggers: the rules engine, webhooks, timers, sensors and the notifier."""
        return Dispatcher(self.store, self.bus, self.config.get("system", "validate_trigger_payload"))

    @cached_property
    def action_requests(self) -> ActionRequests:
        return ActionRequests(self.store, self.executions, self.keys)

    @cached_property
    def credentials(self) -> Credentials:
        return Credentials(self.store, self.config.get("auth", "token_ttl"))

    @cached_property
    def htpasswd(self) -> Htpasswd:
        return Htpasswd(self.config.htpasswd_path)

    @cached_property
    def registrar(self) -> Registrar:
        return Registrar(self.store, self.config.packs_paths, self.config.configs_path,
                         self.config.get("system", "validate_trigger_parameters"))

    def check(self) -> None:
        """Open the store, the bus and the datastore key now, so that a bad setting stops the
        service at start (STARTUP_ERRORS) rather than at its first request."""
        self.store  # noqa: B018
        self.bus  # noqa: B018
        self.crypto_key  # noqa: B018

    def close(self) -> None:
        if "bus" in self.__dict__:
            self.bus.close()
        if "store" in self.__dict__:
            self.store.close()


def setup_logging(config: Config, service: str) -> None:
    level = getattr(logging, str(config.get("log", "level")).upper(), logging.INFO)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    path = config.get("log", "path")
    if path:
        private_file(path, append=True)  # logs carry errors and pack output: not for other users
        handlers = [logging.FileHandler(path)]
    logging.basicConfig(
        level=level, handlers=handlers, force=True,
        format=f"%(asctime)s %(process)d {service} %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def exit_on_startup_error(exc: Exception) -> None:
    """End the process with one readable line for a setting that cannot work."""
    LOG.error("cannot start: %s", exc)
    sys.exit(f"error: {exc}")


def load_config_or_exit(path: str | None = None) -> Config:
    """Load st2.conf; a bad file ends the process with one readable line."""
    try:
        return config_module.load(path)
    except config_module.ConfigError as exc:
        sys.exit(f"error: {exc}")

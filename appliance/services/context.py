"""What every service shares: the config, one store, one bus, and the domain objects over them."""

from __future__ import annotations

import logging
import os
import sys
from functools import cached_property

from appliance import config as config_module
from appliance.auth import Credentials, Htpasswd
from appliance.bus import Bus
from appliance.config import Config
from appliance.content import Registrar
from appliance.datastore.crypto import CryptoKey, create_key_file, read_key
from appliance.executions import Executions
from appliance.store import Store, open_store


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
    def credentials(self) -> Credentials:
        return Credentials(self.store, self.config.get("auth", "token_ttl"))

    @cached_property
    def htpasswd(self) -> Htpasswd:
        return Htpasswd(self.config.htpasswd_path)

    @cached_property
    def registrar(self) -> Registrar:
        return Registrar(self.store, self.config.packs_paths, self.config.configs_path)

    def close(self) -> None:
        if "bus" in self.__dict__:
            self.bus.close()
        if "store" in self.__dict__:
            self.store.close()


def create_private_log(path: str) -> None:
    """Create the log file 0600 in a directory created 0700, not as the umask has it: logs carry
    execution errors and pack output that other local users have no business reading."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))


def setup_logging(config: Config, service: str) -> None:
    level = getattr(logging, str(config.get("log", "level")).upper(), logging.INFO)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    path = config.get("log", "path")
    if path:
        create_private_log(path)
        handlers = [logging.FileHandler(path)]
    logging.basicConfig(
        level=level, handlers=handlers, force=True,
        format=f"%(asctime)s %(process)d {service} %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def load_config_or_exit(path: str | None = None) -> Config:
    """Load st2.conf; a bad file ends the process with one readable line."""
    try:
        return config_module.load(path)
    except config_module.ConfigError as exc:
        sys.exit(f"error: {exc}")

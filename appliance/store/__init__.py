"""Persistence: pick the engine from st2.conf's [database] settings, like kombu picks a transport.

  [database] url = sqlite:///var/lib/st2/st2.db   -> embedded SQLite engine
  [database] url = mongodb://host:27017/          -> MongoDB engine
  [database] host = mongo1  (StackStorm's keys)   -> MongoDB engine
  nothing set                                     -> SQLite file under [system] data_path
"""

from __future__ import annotations

import os
import re

from appliance.config import Config
from appliance.store.base import Collection, Conflict, Store, StoreError

__all__ = ["Collection", "Conflict", "Store", "StoreError", "open_store", "describe"]


def _target(config: Config) -> tuple[str, str]:
    url = config.get("database", "url")
    host = config.get("database", "host")
    if url.startswith("sqlite://"):
        return "sqlite", url[len("sqlite://"):] or os.path.join(config.data_path, "st2.db")
    if url.startswith(("mongodb://", "mongodb+srv://")):
        return "mongodb", url
    if url:
        raise StoreError(f"{config.path}: [database] url: unsupported scheme in {url!r} (sqlite:// or mongodb://)")
    if host:
        if host.startswith(("mongodb://", "mongodb+srv://")):
            return "mongodb", host
        return "mongodb", f"mongodb://{host}:{config.get('database', 'port')}/"
    return "sqlite", config.get("database", "path") or os.path.join(config.data_path, "st2.db")


_PASSWORD_IN_URL = re.compile(r"^(mongodb(?:\+srv)?://[^:/@]*:)[^@/]*@")


def describe(config: Config) -> str:
    """Human-readable engine and location; a password written into the URL is masked."""
    engine, where = _target(config)
    return engine + " " + _PASSWORD_IN_URL.sub(r"\1***@", where)


def open_store(config: Config) -> Store:
    engine, where = _target(config)
    if engine == "sqlite":
        from appliance.store.sqlite import SQLiteStore

        return SQLiteStore(where, config.get("database", "synchronous"))
    from appliance.store.mongo import MongoStore

    return MongoStore.connect(
        where,
        config.get("database", "db_name"),
        config.get("database", "username"),
        config.get("database", "password"),
    )

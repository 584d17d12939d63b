"""Persistence: the [database] URL's scheme picks the engine from ENGINES, as kombu picks a transport.

  [database] url = sqlite:///var/lib/st2/st2.db   -> embedded SQLite engine
  [database] url = mongodb://host:27017/          -> MongoDB engine (mongodb+srv:// too)
  [database] host = mongo1  (StackStorm's keys)   -> MongoDB engine, mongodb://host:port/
  [database] path = /var/lib/st2/st2.db           -> SQLite engine
  nothing set                                     -> SQLite file under [system] data_path

An engine's module is imported only when its scheme is used (a SQLite site needs no pymongo).
"""

from __future__ import annotations

import os

from appliance import schemes
from appliance.config import Config
from appliance.store.base import Collection, Conflict, Store, StoreError

__all__ = ["Collection", "Conflict", "Store", "StoreError", "ENGINES", "open_store", "describe"]

ENGINES = {
    "sqlite": "appliance.store.sqlite:SQLiteStore",
    "mongodb": "appliance.store.mongo:MongoStore",
    "mongodb+srv": "appliance.store.mongo:MongoStore",
}


def _configured(config: Config) -> tuple[str, str]:
    """(key, database URL) as st2.conf sets them; the key is the one to name in an error."""
    url = config.get("database", "url")
    if url:
        return "url", url
    host = config.get("database", "host")
    if "://" in host:
        return "host", host
    if host:
        return "host", f"mongodb://{host}:{config.get('database', 'port')}/"
    return "path", "sqlite://" + config.get("database", "path")


def _target(config: Config) -> tuple[str, str]:
    """(scheme, URL) of the database; StoreError naming file, section and key for a bad one."""
    key, url = _configured(config)
    try:
        scheme = schemes.scheme_of(url, ENGINES)
    except schemes.SchemeError as exc:
        raise StoreError(f"{config.path}: [database] {key}: {exc}") from None
    if url == "sqlite://":
        url += os.path.join(config.data_path, "st2.db")
    return scheme, url


def describe(config: Config) -> str:
    """The database URL for people to read, its password masked."""
    return schemes.masked(_target(config)[1])


def open_store(config: Config) -> Store:
    """The store st2.conf's [database] section selects, built by its engine class."""
    scheme, url = _target(config)
    try:
        engine = schemes.load(ENGINES, scheme)
    except schemes.SchemeError as exc:
        raise StoreError(f"{config.path}: [database]: {exc}") from None
    return engine.from_url(url, config)

"""st2.conf: StackStorm's INI file, its section names and defaults that need no external service.

Existing sites' files keep working: unknown sections and keys are ignored (StackStorm has many we do
not implement), while a known key with a bad value is a ConfigError naming file, section and key.
A known key is never ignored: a value naming something the appliance does not have (an auth
backend, a coordination driver, a missing binary) is refused there too, at start.
"""

from __future__ import annotations

import configparser
import copy
import json
import math
import os
import shlex
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from appliance.rules.cron import time_zone

DEFAULT_CONFIG_PATH = "/etc/st2/st2.conf"


class ConfigError(Exception):
    """A config value is unusable; the message names file, section and key."""


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected a boolean (true/false), got {raw!r}")


def _list(raw: str) -> list[str]:
    """A comma-separated list (oslo.config's ListOpt); items may contain ':' (URLs)."""
    return [item.strip() for item in raw.split(",") if item.strip()]


def _paths(raw: str) -> list[str]:
    """Folders separated by ':' as StackStorm writes packs_base_paths (',' accepted too)."""
    return [item.strip() for item in raw.replace(":", ",").split(",") if item.strip()]


def _arguments(raw: str) -> list[str]:
    """Command-line options as StackStorm's ListOpt writes them (comma-separated), each item split as a
    shell would (`-i URL` is two arguments): StackStorm passed `-i URL` to pip as one (st2#5910)."""
    try:
        return [word for item in _list(raw) for word in shlex.split(item)]
    except ValueError as exc:
        raise ValueError(f"cannot split {raw.strip()!r} into arguments: {exc}") from None


def _index_urls(raw: str) -> list[str]:
    """Pack index URLs: file:///... (a site's own index.json), http:// or https://."""
    urls = _list(raw)
    for url in urls:
        if not url.lower().startswith(("file://", "http://", "https://")):
            raise ValueError(f"{url!r} is not a file://, http:// or https:// URL")
    return urls


def _json_dict(raw: str) -> dict:
    value = json.loads(raw) if raw.strip() else {}
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def _only(value: str, why: str) -> Callable[[str], str]:
    """A key of which the appliance implements one value: anything else is refused, saying `why`."""

    def parse(raw: str) -> str:
        if raw.strip() != value:
            raise ValueError(f"{raw.strip()!r} is not supported: {why}")
        return value

    return parse


COORDINATION_SCHEMES = ("redis", "rediss", "unix")


def _coordination_url(raw: str) -> str:
    """Empty (in-process locks) or a Redis URL as StackStorm's tooz takes it (redis://:pass@host:6379)."""
    url = raw.strip()
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if url and scheme not in COORDINATION_SCHEMES:
        named = f"{scheme}:// is" if scheme else "a URL without a scheme is"  # never echo a password
        raise ValueError(f"{named} not supported: use redis://, rediss:// or unix:// (Redis), or leave it empty")
    return url


def _executable(raw: str) -> str:
    """Empty, or the path of an executable file: a binary that cannot run is refused at start."""
    path = raw.strip()
    if path and not os.path.exists(path):
        raise ValueError(f"{path} does not exist")
    if path and not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise ValueError(f"{path} is not an executable file")
    return path


def _time_zone(raw: str) -> str:
    """Empty, or the name of a time zone the host knows (or UTC): an unknown one is refused at start."""
    name = raw.strip()
    if name:
        time_zone(name)
    return name


MINIMUM_TTL_DAYS = 1  # StackStorm 3.9's (constants/garbage_collection.py), for every [garbagecollector] TTL


def _ttl_days(raw: str) -> Optional[int]:
    """A [garbagecollector] TTL in whole days: empty, None or 0 purges nothing; below the minimum
    is refused, as StackStorm's garbage collector refuses it at start."""
    text = raw.strip()
    if text.lower() in ("", "none"):
        return None
    try:
        days = float(text)
    except ValueError:
        days = math.nan
    if days and days < MINIMUM_TTL_DAYS:
        raise ValueError(f"minimum possible TTL in days is {MINIMUM_TTL_DAYS}, got {text}")
    if not math.isfinite(days) or days != int(days):
        raise ValueError(f"expected a whole number of days (or None), got {text!r}")
    return int(days) or None


def _at_least(minimum: float, cast: Callable[[str], Any] = float) -> Callable[[str], Any]:
    """A finite number (of `cast`) no lower than `minimum`."""

    def parse(raw: str) -> Any:
        value = cast(raw.strip())
        if not math.isfinite(value) or value < minimum:
            raise ValueError(f"expected a number of at least {minimum}, got {raw.strip()}")
        return value

    return parse


# section -> key -> (parser, default). Defaults follow conf/st2.conf.sample, except that the
# database and the bus default to the embedded engines so that a fresh box needs no service.
OPTIONS: dict[str, dict[str, tuple[Callable[[str], Any], Any]]] = {
    "api": {
        "host": (str, "127.0.0.1"),
        "port": (int, 9101),
        "max_page_size": (int, 100),
        "allow_origin": (_list, []),
        "public_url": (str, ""),
    },
    "auth": {
        "host": (str, "127.0.0.1"),
        "port": (int, 9100),
        "enable": (_bool, True),
        "mode": (_only("standalone", "only standalone is available (no proxy mode)"), "standalone"),
        "backend": (_only("flat_file", "only flat_file (an htpasswd file) is available"), "flat_file"),
        "backend_kwargs": (_json_dict, {}),
        "token_ttl": (int, 86400),
        "service_token_ttl": (int, 86400),
        "api_url": (str, ""),
    },
    "stream": {
        "host": (str, "127.0.0.1"),
        "port": (int, 9102),
        "heartbeat": (float, 25.0),
    },
    "database": {
        "url": (str, ""),
        "host": (str, ""),
        "port": (int, 27017),
        "db_name": (str, "st2"),
        "username": (str, ""),
        "password": (str, ""),
        "path": (str, ""),
        "synchronous": (str, "NORMAL"),
    },
    "messaging": {
        "url": (str, "memory://"),
        "prefix": (str, "st2"),
    },
    "coordination": {
        "url": (_coordination_url, ""),
    },
    "system": {
        "base_path": (str, "/opt/stackstorm"),
        "data_path": (str, ""),
        "validate_trigger_payload": (_bool, True),  # webhook and timer payloads are checked regardless
        "validate_trigger_parameters": (_bool, True),  # webhook and timer rules' parameters are checked regardless
    },
    "content": {
        "system_packs_base_path": (str, ""),
        "packs_base_paths": (_paths, []),
        # pack indexes (StackStorm's index.json) for `st2 pack search/show` and installs by name; none by
        # default: the appliance never asks the Exchange, a site publishes its own (file:// works offline)
        "index_url": (_index_urls, []),
    },
    "actionrunner": {
        "python_binary": (_executable, ""),  # "" = the appliance's own interpreter
        "virtualenv_binary": (_executable, ""),  # "" = `<python_binary> -m venv`
        "virtualenv_opts": (_arguments, ["--system-site-packages"]),  # pack virtualenvs' creation options
        "pip_opts": (_arguments, []),  # `pip install` options for pack requirements, e.g. --index-url URL
        "stream_output": (_bool, True),
        "workers": (int, 16),
    },
    "action_sensor": {
        "enable": (_bool, True),  # st2notifier sends core.st2.generic.actiontrigger
        "emit_when": (_list, ["succeeded", "failed", "timeout", "canceled", "abandoned"]),
    },
    "system_user": {
        "user": (str, "stanley"),
        "ssh_key_file": (str, "/home/stanley/.ssh/stanley_rsa"),
    },
    "ssh_runner": {
        # StackStorm's: with use_ssh_config, every ssh of the clush, remote and milkcheck runners reads
        # this file alone (ssh -F); without it, ssh's own (~/.ssh/config of the passwd home, /etc/ssh/ssh_config)
        "use_ssh_config": (_bool, False),
        "ssh_config_file_path": (str, "~/.ssh/config"),
    },
    "keyvalue": {
        "encryption_key_path": (str, ""),  # "" = <data_path>/keys/datastore_key.json, made at first start
    },
    "timersengine": {
        # the zone of Date and Cron timers without `timezone`; UTC, not StackStorm's
        # America/Los_Angeles: see README (st2timersengine)
        "local_timezone": (_time_zone, "UTC"),
    },
    "timer": {
        "local_timezone": (_time_zone, ""),  # StackStorm's deprecated name: wins over [timersengine] when set
    },
    "webui": {
        "webui_base_url": (str, "https://localhost"),
    },
    "garbagecollector": {
        # st2garbagecollector, as StackStorm 3.9's; every TTL in days, None (or 0) = never purged
        "collection_interval": (_at_least(1, int), 600),  # seconds between two collections
        "sleep_delay": (_at_least(0), 2.0),  # seconds between two kinds of documents
        "action_executions_ttl": (_ttl_days, None),  # completed executions, with their output lines
        "action_executions_output_ttl": (_ttl_days, 7),  # output lines of any execution
        "trigger_instances_ttl": (_ttl_days, None),
        "traces_ttl": (_ttl_days, None),  # checked, but the appliance keeps no traces
        "tokens_ttl": (_ttl_days, None),  # tokens that expired longer ago
        "rule_enforcements_ttl": (_ttl_days, None),
        # pending inquiries past their ttl time out; StackStorm's default is False (see README)
        "purge_inquiries": (_bool, True),
    },
    "log": {
        "level": (str, "INFO"),
        "path": (str, ""),
    },
    "supervisor": {
        "mode": (str, "threads"),  # threads | processes: how `st2ctl start` lays out the services
    },
}


@dataclass
class Config:
    """Typed view of st2.conf; `get(section, key)` returns the parsed value or its default."""

    path: str = ""
    values: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    # Derived locations: one place computes every path so services agree on them.
    @property
    def base_path(self) -> str:
        return self.get("system", "base_path")

    @property
    def data_path(self) -> str:
        return self.get("system", "data_path") or os.path.join(self.base_path, "data")

    @property
    def packs_paths(self) -> list[str]:
        system = self.get("content", "system_packs_base_path") or os.path.join(
            self.base_path, "packs"
        )
        return [system] + [p for p in self.get("content", "packs_base_paths") if p != system]

    @property
    def encryption_key_path(self) -> str:
        return self.get("keyvalue", "encryption_key_path") or os.path.join(self.data_path, "keys", "datastore_key.json")

    @property
    def virtualenvs_path(self) -> str:
        return os.path.join(self.base_path, "virtualenvs")

    @property
    def configs_path(self) -> str:
        return os.path.join(self.base_path, "configs")

    @property
    def ssh_config_file(self) -> str:
        """The ssh configuration file the runners pass to ssh -F, "" for ssh's own choice."""
        if not self.get("ssh_runner", "use_ssh_config"):
            return ""
        return os.path.expanduser(self.get("ssh_runner", "ssh_config_file_path"))

    @property
    def htpasswd_path(self) -> str:
        kwargs = self.get("auth", "backend_kwargs")
        return kwargs.get("file_path") or os.path.join(self.base_path, "htpasswd")

    @property
    def api_url(self) -> str:
        """Public API root including /v1, as actions see it in ST2_ACTION_API_URL."""
        public = self.get("api", "public_url") or self.get("auth", "api_url")
        if not public:
            public = f"http://{_client_host(self.get('api', 'host'))}:{self.get('api', 'port')}"
        public = public.rstrip("/")
        return public if public.endswith("/v1") else public + "/v1"


def _client_host(bind_host: str) -> str:
    return "127.0.0.1" if bind_host in ("0.0.0.0", "::", "") else bind_host


def load(path: str | None = None) -> Config:
    """Read st2.conf from `path`, $ST2_CONFIG_PATH or /etc/st2/st2.conf (missing file = defaults)."""
    path = path or os.environ.get("ST2_CONFIG_PATH") or DEFAULT_CONFIG_PATH
    parser = configparser.ConfigParser(interpolation=None)
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle)
        except configparser.Error as exc:
            raise ConfigError(f"{path}: cannot parse: {exc}".replace("\n", " ")) from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: cannot parse: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    values: dict[str, dict[str, Any]] = {}
    for section, options in OPTIONS.items():
        values[section] = {}
        for key, (parse, default) in options.items():
            if parser.has_option(section, key):
                raw = parser.get(section, key)
                try:
                    values[section][key] = parse(raw)
                except ValueError as exc:
                    raise ConfigError(f"{path}: [{section}] {key}: {exc}") from exc
            else:
                values[section][key] = copy.deepcopy(default)  # lists and dicts: one per Config
    return Config(path=path, values=values)

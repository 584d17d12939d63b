"""st2.conf loading: defaults, parsing, errors that name file, section and key."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from appliance import config as st2config
from appliance.config import OPTIONS, ConfigError


@pytest.fixture
def write(tmp_path):
    def write(text, name: str = "st2.conf") -> str:
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def test_defaults_without_a_file(tmp_path):
    path = str(tmp_path / "nonexistent.conf")
    cfg = st2config.load(path)
    assert cfg.path == path
    for section, options in OPTIONS.items():
        for key, (_parse, default) in options.items():
            assert cfg.get(section, key) == default, f"[{section}] {key}"
    # the embedded engines need no external service
    assert cfg.get("database", "url") == "" and cfg.get("database", "host") == ""
    assert cfg.get("messaging", "url") == "memory://"
    assert cfg.get("api", "port") == 9101 and cfg.get("auth", "port") == 9100 and cfg.get("stream", "port") == 9102
    assert cfg.data_path == "/opt/stackstorm/data"
    assert cfg.packs_paths == ["/opt/stackstorm/packs"]
    assert cfg.api_url == "http://127.0.0.1:9101/v1"


def test_defaults_are_not_shared_between_loads(tmp_path):
    first = st2config.load(str(tmp_path / "none.conf"))
    first.get("content", "packs_base_paths").append("/mutated")
    first.get("auth", "backend_kwargs")["file_path"] = "/mutated"
    second = st2config.load(str(tmp_path / "none.conf"))
    assert second.get("content", "packs_base_paths") == []
    assert second.get("auth", "backend_kwargs") == {}


def test_empty_file_gives_defaults(write):
    cfg = st2config.load(write(""))
    assert cfg.get("api", "port") == 9101


def test_path_from_environment(write, monkeypatch):
    path = write("[api]\nport = 9999\n", "env.conf")
    monkeypatch.setenv("ST2_CONFIG_PATH", path)
    cfg = st2config.load()
    assert cfg.path == path
    assert cfg.get("api", "port") == 9999
    # an explicit path wins over the environment
    other = write("[api]\nport = 1234\n", "explicit.conf")
    assert st2config.load(other).get("api", "port") == 1234


def test_default_path_when_nothing_given(monkeypatch):
    monkeypatch.delenv("ST2_CONFIG_PATH", raising=False)
    monkeypatch.setattr(st2config.os.path, "exists", lambda path: False)
    assert st2config.load().path == st2config.DEFAULT_CONFIG_PATH == "/etc/st2/st2.conf"


def test_values_are_parsed(write, tmp_path):
    cfg = st2config.load(
        write(
            f"""
[api]
host = 0.0.0.0
port = 19101
allow_origin = http://a.example, http://b.example
max_page_size = 500

[auth]
enable = False
backend_kwargs = {{"file_path": "{tmp_path}/htpasswd"}}
token_ttl = 3600

[stream]
heartbeat = 2.5

[database]
url = mongodb://st2:p%ss@mongo1/
db_name = site

[messaging]
url = amqp://guest:guest@127.0.0.1:5672/st2
prefix = site

[system]
base_path = {tmp_path}/base

[content]
packs_base_paths = /opt/a:/opt/b,/opt/c

[actionrunner]
stream_output = off
workers = 4
"""
        )
    )
    assert cfg.get("api", "host") == "0.0.0.0"
    assert cfg.get("api", "port") == 19101
    assert cfg.get("api", "max_page_size") == 500
    assert cfg.get("api", "allow_origin") == ["http://a.example", "http://b.example"]
    assert cfg.get("auth", "enable") is False
    assert cfg.get("auth", "backend_kwargs") == {"file_path": f"{tmp_path}/htpasswd"}
    assert cfg.get("auth", "token_ttl") == 3600
    assert cfg.get("stream", "heartbeat") == 2.5
    assert cfg.get("database", "url") == "mongodb://st2:p%ss@mongo1/"  # no % interpolation
    assert cfg.get("database", "db_name") == "site"
    assert cfg.get("messaging", "url") == "amqp://guest:guest@127.0.0.1:5672/st2"
    assert cfg.get("messaging", "prefix") == "site"
    assert cfg.get("content", "packs_base_paths") == ["/opt/a", "/opt/b", "/opt/c"]
    assert cfg.get("actionrunner", "stream_output") is False
    assert cfg.get("actionrunner", "workers") == 4
    # keys not in the file keep their defaults
    assert cfg.get("auth", "port") == 9100
    # derived locations
    assert cfg.base_path == f"{tmp_path}/base"
    assert cfg.data_path == f"{tmp_path}/base/data"
    assert cfg.htpasswd_path == f"{tmp_path}/htpasswd"
    assert cfg.packs_paths == [f"{tmp_path}/base/packs", "/opt/a", "/opt/b", "/opt/c"]
    assert cfg.virtualenvs_path == f"{tmp_path}/base/virtualenvs"
    assert cfg.configs_path == f"{tmp_path}/base/configs"
    assert cfg.api_url == "http://127.0.0.1:19101/v1"


@pytest.mark.parametrize(
    "raw, expected",
    [("true", True), ("True", True), ("yes", True), ("on", True), ("1", True), (" TRUE ", True),
     ("false", False), ("no", False), ("off", False), ("0", False)],
)
def test_booleans(write, raw, expected):
    assert st2config.load(write(f"[auth]\nenable = {raw}\n")).get("auth", "enable") is expected


def test_keys_are_case_insensitive(write):
    assert st2config.load(write("[api]\nPORT = 9999\n")).get("api", "port") == 9999


@pytest.mark.parametrize(
    "public_url, api_url, expected",
    [
        ("https://st2.example", "", "https://st2.example/v1"),
        ("https://st2.example/v1/", "", "https://st2.example/v1"),
        ("", "http://api.example:9101", "http://api.example:9101/v1"),
    ],
)
def test_api_url(write, public_url, api_url, expected):
    cfg = st2config.load(write(f"[api]\npublic_url = {public_url}\n[auth]\napi_url = {api_url}\n"))
    assert cfg.api_url == expected


def test_unknown_sections_and_keys_are_ignored(write):
    cfg = st2config.load(
        write(
            "[api]\nport = 9200\nlogging = /etc/st2/logging.api.conf\nmask_secrets = True\n"
            "[sensorcontainer]\nsingle_sensor_mode = whatever\n"
            "[resultstracker]\nquery_interval = not-a-number-but-unknown\n"
            "[DEFAULT]\nsomething = 1\n"
        )
    )
    assert cfg.get("api", "port") == 9200
    assert "sensorcontainer" not in cfg.values
    assert "logging" not in cfg.values["api"]


@pytest.mark.parametrize(
    "text, section, key",
    [
        ("[api]\nport = ninety\n", "api", "port"),
        ("[api]\nport =\n", "api", "port"),
        ("[auth]\ntoken_ttl = 1.5\n", "auth", "token_ttl"),
        ("[actionrunner]\nworkers = many\n", "actionrunner", "workers"),
        ("[auth]\nenable = maybe\n", "auth", "enable"),
        ("[actionrunner]\nstream_output = 2\n", "actionrunner", "stream_output"),
        ("[stream]\nheartbeat = soon\n", "stream", "heartbeat"),
        ("[auth]\nbackend_kwargs = {not json\n", "auth", "backend_kwargs"),
        ("[auth]\nbackend_kwargs = [1, 2]\n", "auth", "backend_kwargs"),
        ("[database]\nport = 27017x\n", "database", "port"),
    ],
)
def test_bad_value_names_file_section_and_key(write, text, section, key):
    path = write(text)
    with pytest.raises(ConfigError) as caught:
        st2config.load(path)
    message = str(caught.value)
    assert path in message
    assert f"[{section}]" in message
    assert key in message


@pytest.mark.parametrize(
    "text",
    [
        "port = 9101\n",  # no section header
        "[api\nport = 9101\n",
        "[api]\nport = 1\n[api]\nport = 2\n",  # duplicate section
        "[api]\nport = 1\nport = 2\n",  # duplicate key
        "[api]\n  continuation without key\n",
    ],
)
def test_unparseable_file(write, text):
    path = write(text)
    with pytest.raises(ConfigError) as caught:
        st2config.load(path)
    assert path in str(caught.value)
    assert "\n" not in str(caught.value)


def test_file_that_is_not_utf8(write):
    path = write(b"[api]\nhost = caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        st2config.load(path)
    assert path in str(caught.value)


def test_unreadable_file(tmp_path):
    folder = tmp_path / "st2.conf"
    folder.mkdir()  # exists, but cannot be read as a file
    with pytest.raises(ConfigError) as caught:
        st2config.load(str(folder))
    assert str(folder) in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_file_without_read_permission(write):
    path = write("[api]\nport = 1\n")
    os.chmod(path, 0)
    with pytest.raises(ConfigError) as caught:
        st2config.load(path)
    assert path in str(caught.value)


def _refusal(path: str) -> str:
    with pytest.raises(ConfigError) as caught:
        st2config.load(path)
    message = str(caught.value)
    assert path in message and "\n" not in message
    return message


@pytest.mark.parametrize("backend", ["ldap", "keystone", "pam", "mongodb"])
def test_auth_backends_other_than_flat_file_are_refused(write, backend):
    message = _refusal(write(f"[auth]\nbackend = {backend}\n"))
    assert "[auth] backend" in message and backend in message and "only flat_file" in message
    assert st2config.load(write("[auth]\nbackend = flat_file\n")).get("auth", "backend") == "flat_file"


def test_auth_proxy_mode_is_refused(write):
    message = _refusal(write("[auth]\nmode = proxy\n"))
    assert "[auth] mode" in message and "proxy" in message and "only standalone" in message
    assert st2config.load(write("[auth]\nmode = standalone\n")).get("auth", "mode") == "standalone"


@pytest.mark.parametrize("url", [
    "", "redis://:s3cret@redis1:6379?sentinel=st2&sentinel_fallback=redis2:26379", "redis://redis1:6379",
    "rediss://:s3cret@redis1:6380", "unix:///var/run/redis/redis.sock",
])
def test_coordination_url_takes_redis(write, url):
    assert st2config.load(write(f"[coordination]\nurl = {url}\n")).get("coordination", "url") == url


@pytest.mark.parametrize("url", ["zake://", "memcached://cache1:11211", "zookeeper://u:s3cret@zk1:2181",
                                 "etcd3+http://etcd1:2379", "s3cret@redis1:6379"])
def test_other_coordination_backends_are_refused_naming_the_schemes(write, url):
    message = _refusal(write(f"[coordination]\nurl = {url}\n"))
    assert "[coordination] url" in message
    assert "redis://" in message and "rediss://" in message and "unix://" in message
    assert "s3cret" not in message  # a URL may carry a password: it is never echoed


@pytest.mark.parametrize("key", ["python_binary", "virtualenv_binary"])
def test_binaries_must_be_executable_files(write, tmp_path, key):
    assert st2config.load(write(f"[actionrunner]\n{key} = {sys.executable}\n")).get("actionrunner", key) \
        == sys.executable
    assert st2config.load(write(f"[actionrunner]\n{key} =\n")).get("actionrunner", key) == ""
    missing = tmp_path / "bin" / "python9"
    assert f"{missing} does not exist" in _refusal(write(f"[actionrunner]\n{key} = {missing}\n"))
    plain = tmp_path / "not-executable"
    plain.write_text("#!/bin/sh\n")
    for unusable in (plain, tmp_path):
        message = _refusal(write(f"[actionrunner]\n{key} = {unusable}\n"))
        assert f"[actionrunner] {key}" in message and "is not an executable file" in message


@pytest.mark.parametrize("text, expected", [
    ("", ("", "UTC")),
    ("[timersengine]\nlocal_timezone = Europe/Paris\n", ("", "Europe/Paris")),
    ("[timer]\nlocal_timezone = America/Los_Angeles \n[timersengine]\nlocal_timezone = UTC\n",
     ("America/Los_Angeles", "UTC")),
])
def test_local_timezones(write, text, expected):
    cfg = st2config.load(write(text))
    assert (cfg.get("timer", "local_timezone"), cfg.get("timersengine", "local_timezone")) == expected


@pytest.mark.parametrize("section", ["timer", "timersengine"])
def test_an_unknown_local_timezone_is_refused_in_one_line(write, section):
    message = _refusal(write(f"[{section}]\nlocal_timezone = Mars/Olympus_Mons\n"))
    assert f"[{section}] local_timezone" in message and 'timezone "Mars/Olympus_Mons" is not a known time zone' \
        in message


def test_a_local_timezone_without_a_time_zone_database_says_so(write, monkeypatch):
    from appliance.rules import cron

    def no_database(key):
        raise cron.zoneinfo.ZoneInfoNotFoundError(key)

    monkeypatch.setattr(cron.zoneinfo, "ZoneInfo", no_database)
    assert st2config.load(write("[timersengine]\nlocal_timezone = UTC\n")).get("timersengine", "local_timezone") \
        == "UTC"  # needs no database
    message = _refusal(write("[timersengine]\nlocal_timezone = Europe/Paris\n"))
    assert "[timersengine] local_timezone" in message and "this host has no time zone database" in message


def test_the_timers_engine_stops_on_an_unknown_zone_with_one_line(write):
    path = write("[timersengine]\nlocal_timezone = Europe/Pariss\n")
    done = subprocess.run([sys.executable, "-m", "appliance.services.timersengine", "--config-file", path],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "[timersengine] local_timezone" in lines[0] and "Europe/Pariss" in lines[0]


# Keys whose one accepted value (or set of values) is all the appliance has yet; anything else is refused.
CHECKED_ONLY = {
    ("auth", "mode"): "only standalone exists",
    ("auth", "backend"): "only flat_file exists",
    ("coordination", "url"): "no service of this release takes a lock yet",
    ("actionrunner", "virtualenv_binary"): "pack virtualenvs come with packs.install",
}


def test_every_known_option_is_read_by_some_code():
    """A key in OPTIONS that no code reads would be accepted and silently ignored."""
    import pathlib
    import re

    root = pathlib.Path(st2config.__file__).parent
    sources = "\n".join(path.read_text(encoding="utf-8") for path in root.rglob("*.py")
                        if path.name != "config.py")
    sources += pathlib.Path(st2config.__file__).read_text(encoding="utf-8").split("class Config", 1)[1]
    unread = [f"[{section}] {key}" for section, keys in OPTIONS.items() for key in keys
              if (section, key) not in CHECKED_ONLY and not re.search(rf"""["']{key}["']""", sources)]
    assert not unread, f"options parsed but never used: {unread}"

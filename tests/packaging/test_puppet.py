"""The Puppet module (puppet/modules/st2): puppet-lint and `puppet parser validate` clean, its
rspec-puppet catalog tests (every class, define and function), and `puppet apply` for real.

The real apply runs as root against the RabbitMQ server on this machine (a fresh vhost and user per
run, both removed afterwards; guest is kept, the other tests use it) and a scratch redis-server this
test starts on a port of its own, with a config file. Everything else goes to a temp folder: st2.conf
(the e2e harness' appliance reads it), the secrets, the datastore key, pip.conf, a pack config. The
first apply must change things (exit 2), the second nothing (exit 0); then the appliance starts with
`st2ctl start --config-file` on that st2.conf (one process per service over RabbitMQ, leader locks in
Redis with its password) and runs actions. No MongoDB server exists here: the MongoDB class is covered
by the catalog tests only. Services are not managed (PID 1 is not systemd here): manage_services false.

Tools (puppet, puppet-lint, rspec with rspec-puppet, the Debian puppet modules stdlib, inifile and
rabbitmq; make test-tools installs them), root and RabbitMQ are required: without them these tests
skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import configparser
import glob
import json
import os
import urllib.parse

import pytest
from puppet_harness import (
    MODULE,
    RABBITMQ_PASSWORD,
    SYSTEM_MODULES,
    ScratchRedis,
    harness,
    mode,
    program,
    puppet_apply,
    puppet_string,
    require_apply,
    require_system_modules,
    run,
    st2_class,
    wiring,
)

from tests.support import rabbitmq as broker

pytestmark = pytest.mark.packaging


def manifests() -> list[str]:
    return sorted(glob.glob(os.path.join(MODULE, "**", "*.pp"), recursive=True))


# -- static checks and catalog tests -------------------------------------------------------------
def test_puppet_lint_clean():
    done = run([program("puppet-lint"), "--fail-on-warnings", MODULE])
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_puppet_parser_validate_clean():
    files = manifests()
    assert len(files) >= 12, files
    done = run([program("puppet"), "parser", "validate", "--color=false", *files])
    assert done.returncode == 0, done.stdout + done.stderr
    ruby = run([program("ruby"), "-wc", *glob.glob(os.path.join(MODULE, "lib", "**", "*.rb"), recursive=True)])
    assert ruby.returncode == 0 and "warning" not in ruby.stderr, ruby.stdout + ruby.stderr
    with open(os.path.join(MODULE, "metadata.json"), encoding="utf-8") as handle:
        metadata = json.load(handle)
    names = {dep["name"] for dep in metadata["dependencies"]}
    assert names == {"puppetlabs/stdlib", "puppetlabs/inifile", "puppet/rabbitmq"}, names


def test_rspec_puppet_catalogs():
    """Every class, define and function (spec/), with the Debian-packaged modules on the module path."""
    rspec = program("rspec")
    require_system_modules()
    done = run([rspec, "--format", "progress", "--no-color"], timeout=600, cwd=MODULE,
               env=dict(os.environ, ST2_SPEC_SYSTEM_MODULES=SYSTEM_MODULES))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-20000:]
    summary = next(line for line in output.splitlines() if " examples, " in line)
    examples = int(summary.split()[0])
    assert examples >= 200 and " 0 failures" in summary, summary
    for spec in ("classes/st2", "classes/config", "classes/install", "classes/datastore", "classes/services",
                 "classes/mongodb", "classes/rabbitmq", "classes/redis", "classes/pip", "defines/pack",
                 "defines/secret_file", "functions/secret", "functions/interpolate", "functions/password",
                 "functions/mongodb_uri"):
        assert os.path.exists(os.path.join(MODULE, "spec", f"{spec}_spec.rb")), spec
    assert not os.path.exists(os.path.join(MODULE, "spec", "fixtures")), "rspec-puppet left spec/fixtures behind"


# -- puppet apply for real ----------------------------------------------------------------------
def site_manifest(appliance: harness.Appliance, etc: str, vhost: str, user: str, redis: ScratchRedis,
                  mirror: str) -> str:
    return st2_class({
        **wiring(vhost, user, redis),
        "conf_dir": puppet_string(etc),
        "conf_path": puppet_string(appliance.config_path),
        "base_path": puppet_string(appliance.base),
        "system_packs_base_path": puppet_string(appliance.packs),
        "auth_port": str(appliance.auth_port),
        "api_port": str(appliance.api_port),
        "stream_port": str(appliance.stream_port),
        "log_path": puppet_string(appliance.log_path),
        "pip_find_links": puppet_string("file://" + mirror),
        "pip_conf_path": puppet_string(os.path.join(etc, "pip.conf")),
        "settings": "{ 'stream' => { 'heartbeat' => 1 } }",
        "packs": "{ 'testpack' => { 'config' => { 'greeting' => 'hello from puppet', 'nodes' => ['n1', 'n2'] } } }",
    })


def test_puppet_apply_for_real(tmp_path, scratch_redis: ScratchRedis, rabbitmq_account: tuple[str, str]):
    require_apply()
    harness.require_cli()
    vhost, user = rabbitmq_account
    etc, mirror, vardir = str(tmp_path / "etc"), str(tmp_path / "mirror"), str(tmp_path / "puppet")
    os.makedirs(mirror)
    appliance = harness.Appliance("puppet", write_config=False)  # Puppet writes its st2.conf
    try:
        manifest = tmp_path / "site.pp"
        manifest.write_text(site_manifest(appliance, etc, vhost, user, scratch_redis, mirror))

        code, output, first = puppet_apply(str(manifest), vardir)
        assert code == 2, f"first apply: exit {code}, expected 2 (changes)\n{output}"
        assert "Error:" not in output and "Warning:" not in output, output
        code, again, second = puppet_apply(str(manifest), vardir)
        assert code == 0, f"second apply: exit {code}, expected 0 (nothing to change)\n{again}"
        print(f"puppet apply: {first:.1f} s (changes), {second:.1f} s (none)")

        # st2.conf, with the passwords URL-encoded in their URLs
        assert mode(appliance.config_path) == 0o640
        conf = configparser.ConfigParser(interpolation=None)
        conf.read(appliance.config_path)
        redis_password = open(os.path.join(etc, "secrets", "redis")).read()
        assert len(redis_password) == 32 and redis_password.isalnum()
        assert mode(os.path.join(etc, "secrets")) == 0o700 and mode(os.path.join(etc, "secrets", "redis")) == 0o600
        encoded = urllib.parse.quote(RABBITMQ_PASSWORD, safe="")
        assert conf["messaging"]["url"] == f"amqp://{user}:{encoded}@{broker.HOST}:{broker.PORT}/{vhost}"
        assert conf["coordination"]["url"] == f"redis://:{redis_password}@127.0.0.1:{scratch_redis.port}"
        assert conf["system"]["base_path"] == appliance.base and conf["supervisor"]["mode"] == "processes"
        assert not conf.has_option("database", "host") and not conf.has_option("database", "url")
        key_path = conf["keyvalue"]["encryption_key_path"]
        assert key_path == os.path.join(etc, "keys", "datastore_key.json") and mode(key_path) == 0o600
        with open(key_path, encoding="utf-8") as handle:
            key = handle.read()
        assert {"aesKeyString", "hmacKey", "mode", "size"} <= set(json.loads(key))
        with open(os.path.join(etc, "pip.conf"), encoding="utf-8") as handle:
            assert handle.read() == f"[global]\nno-index = true\nfind-links = file://{mirror}\n"
        pack_config = os.path.join(appliance.base, "configs", "testpack.yaml")
        assert mode(pack_config) == 0o600

        # Redis: requirepass in its config file and on the running server
        with open(scratch_redis.conf, encoding="utf-8") as handle:
            assert f"requirepass {redis_password}\n" in handle.read()
        assert "NOAUTH" in scratch_redis.cli("PING").stdout
        assert scratch_redis.cli("PING", password=redis_password).stdout.strip() == "PONG"

        # RabbitMQ: the user has every permission on its vhost, and is no administrator
        ctl = broker.rabbitmqctl()
        permissions = run([ctl, "-q", "list_permissions", "-p", vhost], timeout=60).stdout.split()
        assert permissions[-4:] == [user, ".*", ".*", ".*"], permissions
        users = run([ctl, "-q", "list_users"], timeout=60).stdout
        assert f"{user}\t[]" in users, users

        # No secret reached Puppet's own files (state, reports, caches)
        for root, _dirs, files in os.walk(vardir):
            for name in files:
                with open(os.path.join(root, name), "rb") as handle:
                    content = handle.read()
                for secret in (redis_password, RABBITMQ_PASSWORD, encoded):
                    assert secret.encode() not in content, f"a password is in {os.path.join(root, name)}"

        # The appliance configured by it: processes over RabbitMQ, leader locks in Redis with auth
        appliance.start()
        done = appliance.st2("run", "core.local", "cmd=echo configured by puppet", "-j")
        result = harness.parse_json_output(done.stdout)
        assert result["status"] == "succeeded" and result["result"]["stdout"] == "configured by puppet", done.stdout
        done = appliance.st2("run", "testpack.context", "-j")
        result = harness.parse_json_output(done.stdout)
        assert result["status"] == "succeeded", done.stdout + appliance.log_tail()
        assert result["result"]["result"]["config"] == {"greeting": "hello from puppet", "nodes": ["n1", "n2"]}
        harness.ok(appliance.st2("key", "set", "puppet_secret", "kept by the puppet key", "--encrypt"))
        assert "kept by the puppet key" in harness.ok(appliance.st2("key", "get", "puppet_secret", "-d"))
        with open(key_path, encoding="utf-8") as handle:
            assert handle.read() == key, "the appliance replaced the datastore key Puppet made"
        leaders = scratch_redis.cli("--scan", "--pattern", "*leader*", password=redis_password).stdout.split()
        assert leaders, "no leader lock in Redis: the appliance did not use [coordination] url"
        queues = run([ctl, "-q", "list_queues", "-p", vhost, "name"], timeout=60).stdout.split()
        assert queues, "no queue in the appliance's vhost: it did not use [messaging] url"
    finally:
        appliance.stop()
        if not harness.KEEP:
            appliance.cleanup()

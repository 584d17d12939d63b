"""`st2 pack config` with the real st2 CLI, on both wirings, driven through its interactive prompts on a
pseudo-terminal as a user answers them: it reads the pack's schema (/v1/config_schemas), asks for each
key (secret, defaults, booleans, integers, lists, a nested object), PUTs the values (/v1/configs), and a
python action of the pack then reads them as self.config. A value the schema refuses is one readable
error; a pack without a schema is answered as StackStorm answers."""

from __future__ import annotations

import os
import re
import stat

import pytest
import yaml
from e2e_harness import Appliance, answer_prompts, ok, refused, require_prompts

pytestmark = pytest.mark.e2e

# The dialog for configpack's schema (tests/fixtures/packs/configpack/config.schema.yaml), prompt by prompt.
DIALOG = [
    (r"^api_url: $", "https://svc.example/api"),
    (r"^api_key \(secret\): $", "k-{tag}"),
    (r"^region \[eu-west\]: $", ""),  # the default
    (r"^timeout \(integer\) \[30\]: $", "45"),
    (r"^verify_ssl \(boolean\) \[y\]: $", "n"),
    (r"^hosts \(comma-separated list\) \[node1,node2\]: $", "c1, c2, c3"),
    (r"^auth\.user \[stanley\]: $", "ops"),
    (r"^auth\.password \(secret\): $", "pw-{tag}"),
    (r"preview the config in an editor before saving\? \[y\]: $", "n"),
    (r"Do you want me to save it\? \[y\]: $", "y"),
]


@pytest.fixture
def configpack(appliance: Appliance) -> Appliance:
    require_prompts()
    appliance.add_fixture_pack("configpack")
    return appliance


def dialog(tag: str, **replaced: str) -> list[tuple[str, str]]:
    return [(pattern, replaced.get(pattern, text).format(tag=tag)) for pattern, text in DIALOG]


def test_st2_pack_config_asks_saves_and_an_action_reads_it(configpack: Appliance):
    tag = os.urandom(4).hex()
    code, output = answer_prompts(configpack, ["pack", "config", "configpack"], dialog(tag))
    assert code == 0, output
    assert "Traceback" not in output and "ERROR" not in output, output
    # The CLI prints the saved config, secrets masked (it does not ask for them).
    assert re.search(r'"api_key": "\*{8}"', output) and re.search(r'"password": "\*{8}"', output), output
    assert f"k-{tag}" not in output.split("save it?")[-1], output
    path = os.path.join(configpack.base, "configs", "configpack.yaml")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    expected = {"api_url": "https://svc.example/api", "api_key": f"k-{tag}", "region": "eu-west", "timeout": 45,
                "verify_ssl": False, "hosts": ["c1", "c2", "c3"], "auth": {"user": "ops", "password": f"pw-{tag}"}}
    with open(path, encoding="utf-8") as handle:
        assert yaml.safe_load(handle) == expected
    shown = configpack.api("GET", "configs/configpack", params={"show_secrets": "true"})
    assert shown.status_code == 200 and shown.json()["values"] == expected
    assert configpack.api("GET", "configs/configpack").json()["values"]["api_key"] == "********"

    _, execution = configpack.st2_json("run", "configpack.show_config")
    assert execution["status"] == "succeeded", execution
    assert execution["result"]["result"] == {"config": expected, "user": "ops"}
    printed = ok(configpack.st2("run", "configpack.show_config"))
    assert "api_url: https://svc.example/api" in printed and f"api_key: k-{tag}" in printed, printed


def test_a_value_the_schema_refuses_is_one_readable_error_and_changes_nothing(configpack: Appliance):
    path = os.path.join(configpack.base, "configs", "configpack.yaml")
    before = open(path, encoding="utf-8").read() if os.path.exists(path) else None
    # api_url is required and has no default: left empty, the CLI sends null, which the schema refuses.
    code, output = answer_prompts(configpack, ["pack", "config", "configpack"],
                                  dialog("bad", **{r"^api_url: $": ""}))
    assert code != 0 and "Traceback" not in output, output
    [message] = [line for line in output.splitlines() if "MESSAGE:" in line]
    assert message.startswith('MESSAGE: Failed validating attribute "api_url" in config for pack "configpack" ('), \
        output
    assert "None is not of type 'string'" in message, output
    after = open(path, encoding="utf-8").read() if os.path.exists(path) else None
    assert after == before


def test_a_pack_without_a_schema_is_answered_as_stackstorm_answers(configpack: Appliance):
    for pack in ("core", "nosuchpack"):
        text = refused(configpack.st2("pack", "config", pack))
        assert text.strip() == f'ERROR: Pack "{pack}" doesn\'t exist or doesn\'t have a config schema defined.', text
    assert configpack.api("GET", "config_schemas/core").json() == {
        "faultstring": 'Unable to identify resource with pack_ref "core".'}

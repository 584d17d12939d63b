"""Pack configs as StackStorm 3.9 has them: config.schema.yaml registered with its pack (checked as
StackStorm's ConfigSchemaAPI checks it), <base_path>/configs/<pack>.yaml validated against it with
its defaults filled in, /v1/config_schemas and /v1/configs (secrets masked, PUT writing the file),
and the config an action or sensor gets at run time (st2kv rendered, secrets decrypted, defaults).

The expected validation results were checked against StackStorm 3.9's own functions (its
util/schema validate with its custom validator, config_loader and util/secrets) on the same inputs.
"""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest
import yaml
from falcon import testing

from appliance.api.app import api_app
from appliance.content import ContentError
from appliance.models import CONFIG_SCHEMAS, CONFIGS, SECRET_MASK, ValidationError
from appliance.models.config import check_config_schema, fill_defaults, mask_config, validate_config
from appliance.pack_env import PackConfigError, pack_config
from appliance.parameters import ParameterError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGPACK = os.path.join(ROOT, "tests", "fixtures", "packs", "configpack")
VALID = {"api_url": "https://svc.example", "api_key": "k-1"}


@pytest.fixture
def packs_dir(tmp_path):
    """A packs folder holding a copy of the configpack fixture (tests change its schema)."""
    folder = tmp_path / "packs"
    shutil.copytree(CONFIGPACK, folder / "configpack")
    return folder


@pytest.fixture
def ctx(make_ctx, packs_dir):
    return make_ctx(f"[content]\nsystem_packs_base_path = {packs_dir}\n[auth]\nenable = false\n")


@pytest.fixture
def client(ctx):
    ctx.registrar.register(types=("runners", "actions", "configs"))
    return testing.TestClient(api_app(ctx))


def schema_file(packs_dir):
    return packs_dir / "configpack" / "config.schema.yaml"


def config_file(ctx):
    return os.path.join(ctx.config.configs_path, "configpack.yaml")


def write_config(ctx, values) -> str:
    path = config_file(ctx)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(values if isinstance(values, str) else yaml.safe_dump(values))
    return path


# -- the schema ---------------------------------------------------------------------------------------

def test_the_schema_is_registered_with_its_pack(ctx, packs_dir):
    assert ctx.registrar.register(types=("configs",)) == {"packs": 1, "configs": 0}
    [doc] = ctx.store.collection(CONFIG_SCHEMAS).find({})
    assert doc["attributes"] == yaml.safe_load(schema_file(packs_dir).read_text())
    assert doc["pack"] == "configpack" and set(CONFIG_SCHEMAS.public(doc)) == {"id", "pack", "attributes"}
    ctx.registrar.register(types=("runners", "actions"))  # again, with other content types: same document
    assert ctx.store.collection(CONFIG_SCHEMAS).find({})[0]["id"] == doc["id"]


@pytest.mark.parametrize("schema, message", [
    ({"bad-key": {"type": "string"}},
     "'bad-key' does not match any of the regexes: '^\\\\w+$' (field 'attributes.bad-key')"),
    ({"a": {"type": ["string", "null"]}}, "is not one of ['array', 'boolean', 'integer', 'null', 'number', 'object', "
                                          "'string'] (field 'attributes.a.type')"),
    ({"a": {"type": "string", "colour": "red"}}, "Additional properties are not allowed ('colour' was unexpected)"),
    ({"a": {"type": "string", "format": "email"}}, "('format' was unexpected)"),
    ({"a": {"type": "string", "required": "yes"}}, "'yes' is not of type 'boolean' (field 'attributes.a.required')"),
    ({"a": {"type": "object", "properties": {"b": {"required": ["x"]}}}},
     "['x'] is not of type 'boolean' (field 'attributes.a.properties.b.required')"),
    ({"a": {"type": "string", "secret": 1}}, "1 is not of type 'boolean' (field 'attributes.a.secret')"),
    ({"a": {"type": "string", "pattern": "(unclosed"}}, "'(unclosed' is not a 'regex'"),
    ({"a": {"type": "object", "properties": {"b": {"$ref": "http://example.invalid/s.json"}}}},
     "is not a reference inside the schema"),
    ({"a": None}, "None is not of type 'object' (field 'attributes.a')"),
])
def test_a_broken_schema_is_a_registration_error_naming_the_file(ctx, packs_dir, schema, message):
    schema_file(packs_dir).write_text(yaml.safe_dump(schema))
    with pytest.raises(ContentError) as caught:
        ctx.registrar.register(types=("configs",))
    assert str(caught.value).startswith(f"{schema_file(packs_dir)}: ") and message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert ctx.store.collection(CONFIG_SCHEMAS).count() == 0


def test_nested_schemas_take_any_keyword_and_lists_of_types_as_stackstorms_do():
    check_config_schema({"a": {"type": "object", "properties": {"b": {"type": ["string", "null"], "x-ui": 1}},
                               "additionalProperties": {"type": "integer"}},
                         "c": {"type": "array", "items": {"type": "object", "properties": {"d": {"required": True}}}}})


def test_an_empty_schema_file_is_refused_and_a_removed_one_is_dropped(ctx, packs_dir):
    schema_file(packs_dir).write_text("---\n")
    with pytest.raises(ContentError, match=r'^Config schema ".*config.schema.yaml" is empty and invalid\.$'):
        ctx.registrar.register(types=("configs",))
    schema_file(packs_dir).write_text("a: {type: string}\n")
    ctx.registrar.register(types=("configs",))
    assert ctx.store.collection(CONFIG_SCHEMAS).count() == 1
    schema_file(packs_dir).unlink()
    ctx.registrar.register(types=("configs",))
    assert ctx.store.collection(CONFIG_SCHEMAS).count() == 0


# -- validation (registration and PUT) --------------------------------------------------------------

SCHEMA = yaml.safe_load(open(os.path.join(CONFIGPACK, "config.schema.yaml"), encoding="utf-8"))


def test_validation_fills_defaults_at_every_depth():
    cleaned = validate_config({**VALID, "auth": {"password": "pw"}, "extra": [1]}, SCHEMA, "configpack", "/c.yaml")
    assert cleaned == {**VALID, "region": "eu-west", "timeout": 30, "verify_ssl": True, "hosts": ["node1", "node2"],
                       "auth": {"user": "stanley", "password": "pw"}, "extra": [1]}
    schema = {"jobs": {"type": "array", "items": {"type": "object", "properties": {"retries": {"default": 2}}}}}
    assert validate_config({"jobs": [{}, {"retries": None}]}, schema, "p", "f") == {"jobs": [{"retries": 2}] * 2}


@pytest.mark.parametrize("values, attribute, message", [
    ({"api_key": "k"}, "api_url", "'api_url' is a required property"),
    ({**VALID, "api_url": None}, "api_url", "None is not of type 'string'"),
    ({**VALID, "timeout": "soon"}, "timeout", "'soon' is not of type 'integer'"),
    ({**VALID, "hosts": "node1"}, "hosts", "'node1' is not of type 'array'"),
    ({**VALID, "region": 5}, "region", "5 is not of type 'string'"),  # its default is not null: it may not be
    ({**VALID, "hosts": ["node1", 2]}, "hosts.1", "2 is not of type 'string'"),
    ({**VALID, "auth": {"user": 7}}, "auth.user", "7 is not of type 'string'"),
    ({**VALID, "auth": {"password": 7}}, "auth.password", "7 is not of type 'string', 'null'"),
])
def test_a_bad_value_names_its_attribute_pack_and_file(values, attribute, message):
    with pytest.raises(ValidationError) as caught:
        validate_config(values, SCHEMA, "configpack", "/opt/stackstorm/configs/configpack.yaml")
    assert str(caught.value) == (f'Failed validating attribute "{attribute}" in config for pack "configpack" '
                                 f"(/opt/stackstorm/configs/configpack.yaml): {message}")


def test_optional_items_may_be_null_as_stackstorm_allows():
    """An optional item, or one whose default is null, may be null; a required one may not."""
    schema = {"a": {"type": "string"}, "b": {"type": "integer", "default": None},
              "d": {"type": "object", "properties": {"e": {"type": "integer"}}},
              "f": {"anyOf": [{"type": "integer"}, {"type": "boolean"}]}, "g": {}}
    values = {"a": None, "b": None, "d": {"e": None}, "f": None, "g": None}
    assert validate_config(values, schema, "p", "f") == values
    assert validate_config({"d": None}, schema, "p", "f") == {"d": None, "b": None}  # b's default
    with pytest.raises(ValidationError, match="None is not of type 'string'"):
        validate_config({"a": None}, {"a": {"type": "string", "required": True}}, "p", "f")
    with pytest.raises(ValidationError, match=r"None is not one of \['x'\]"):  # an enum stays an enum
        validate_config({"c": None}, {"c": {"enum": ["x"]}}, "p", "f")


def test_decrypt_kv_is_refused_on_a_secret_item():
    with pytest.raises(ValidationError, match=r'^Values specified as "secret: True" in config schema are automatically '
                                              r'decrypted by default\. Use of "decrypt_kv"'):
        validate_config({**VALID, "api_key": "{{ st2kv.system.k | decrypt_kv }}"}, SCHEMA, "p", "f")
    validate_config({**VALID, "api_url": "{{ st2kv.system.u | decrypt_kv }}"}, SCHEMA, "p", "f")


def test_registration_validates_the_config_and_stores_it_as_written(ctx):
    write_config(ctx, {**VALID, "timeout": 5})
    assert ctx.registrar.register(types=("configs",))["configs"] == 1
    [doc] = ctx.store.collection(CONFIGS).find({})
    assert doc["pack"] == "configpack" and doc["values"] == {**VALID, "timeout": 5}  # defaults are a run-time matter
    path = write_config(ctx, {"api_url": "https://x", "timeout": "soon"})
    with pytest.raises(ContentError) as caught:
        ctx.registrar.register(types=("configs",))
    assert str(caught.value) == (f'Failed to register config "{path}" for pack "configpack": Failed validating '
                                 f'attribute "api_key" in config for pack "configpack" ({path}): '
                                 "'api_key' is a required property")
    assert ctx.registrar.register(types=("configs",), fail_on_failure=False)["configs"] == 0
    assert ctx.store.collection(CONFIGS).find({})[0]["values"] == {**VALID, "timeout": 5}  # the last good one
    os.remove(path)
    assert ctx.registrar.register(types=("configs",))["configs"] == 0
    assert ctx.store.collection(CONFIGS).count() == 0


# -- the API ----------------------------------------------------------------------------------------

def test_config_schemas_as_the_api_shows_them(client):
    listed = client.simulate_get("/v1/config_schemas")
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "1"
    [doc] = listed.json
    assert doc["pack"] == "configpack" and doc["attributes"]["api_key"]["secret"] is True
    assert client.simulate_get("/v1/config_schemas/configpack/").json == doc
    assert client.simulate_get(f"/v1/config_schemas/{doc['pack']}").json == doc
    missing = client.simulate_get("/v1/config_schemas/nope")
    assert missing.status_code == 404 and missing.json == {"faultstring": 'Resource with a ref or id "nope" not found'}


def test_a_pack_without_schema_answers_as_stackstorms(ctx, client, packs_dir):
    os.remove(schema_file(packs_dir))
    ctx.registrar.register(types=("configs",))
    answer = client.simulate_get("/v1/config_schemas/configpack")
    assert answer.status_code == 404
    assert answer.json == {"faultstring": 'Unable to identify resource with pack_ref "configpack".'}


def test_put_validates_writes_the_file_0600_and_registers_it(ctx, client):
    values = {**VALID, "auth": {"user": "ops", "password": "pw"}, "hosts": ["n1"]}
    put = client.simulate_put("/v1/configs/configpack", json=values)
    assert put.status_code == 200, put.text
    assert put.json["pack"] == "configpack" and set(put.json) == {"id", "pack", "values"}
    assert put.json["values"] == {**values, "api_key": SECRET_MASK, "auth": {"user": "ops", "password": SECRET_MASK}}
    path = config_file(ctx)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path, encoding="utf-8") as handle:
        assert yaml.safe_load(handle) == values
    got = client.simulate_get("/v1/configs/configpack")
    assert got.json == put.json
    shown = client.simulate_get("/v1/configs/configpack", params={"show_secrets": "true"})
    assert shown.json["values"] == values
    listed = client.simulate_get("/v1/configs")
    assert listed.json == [put.json] and listed.headers["X-Total-Count"] == "1"
    assert client.simulate_get("/v1/configs", params={"show_secrets": "true"}).json[0]["values"] == values
    again = client.simulate_put("/v1/configs/configpack", json={**VALID, "region": "eu-north"})
    assert again.json["id"] == put.json["id"]
    with open(path, encoding="utf-8") as handle:
        assert yaml.safe_load(handle) == {**VALID, "region": "eu-north"}  # replaced whole, as StackStorm does


@pytest.mark.parametrize("body, status, faultstring", [
    ({**VALID, "timeout": "soon"}, 400, 'Failed validating attribute "timeout" in config for pack "configpack"'),
    ({"api_key": "k"}, 400, "'api_url' is a required property"),
    ([1, 2], 400, "Request body must be a JSON object"),
])
def test_put_refuses_a_bad_config_and_keeps_the_file(ctx, client, body, status, faultstring):
    assert client.simulate_put("/v1/configs/configpack", json=VALID).status_code == 200
    answer = client.simulate_put("/v1/configs/configpack", json=body)
    assert answer.status_code == status and faultstring in answer.json["faultstring"]
    with open(config_file(ctx), encoding="utf-8") as handle:
        assert yaml.safe_load(handle) == VALID
    assert client.simulate_get("/v1/configs/configpack", params={"show_secrets": "1"}).json["values"] == VALID


def test_configs_of_unknown_packs_or_packs_without_one_are_404s(ctx, client):
    for method, path in (("GET", "/v1/configs/nope"), ("PUT", "/v1/configs/nope"), ("GET", "/v1/configs/configpack"),
                         ("PUT", "/v1/configs/..%2E%2E"), ("PUT", "/v1/configs/.."), ("PUT", "/v1/configs/Core")):
        answer = client.simulate_request(method, path, json=VALID)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json["faultstring"].startswith('Unable to identify resource with pack_ref "')
    assert not os.path.exists(ctx.config.configs_path)  # nothing written


def test_masks_reach_every_depth_and_a_secret_object_is_masked_whole():
    schema = {"o": {"type": "object", "properties": {"p": {"type": "string", "secret": True}}},
              "l": {"type": "array", "items": {"type": "object", "properties": {"pw": {"secret": True}}}},
              "whole": {"type": "object", "secret": True}, "plain": {"type": "string"}}
    values = {"o": {"p": "1", "q": "2"}, "l": [{"pw": "a", "x": 1}], "whole": {"a": 1}, "plain": "v", "other": "w"}
    assert mask_config(values, schema) == {"o": {"p": SECRET_MASK, "q": "2"}, "l": [{"pw": SECRET_MASK, "x": 1}],
                                           "whole": SECRET_MASK, "plain": "v", "other": "w"}


# -- run time: what self.config and a sensor's config are -------------------------------------------

def runtime(ctx, packs_dir, user="alice"):
    return pack_config(ctx.config.configs_path, "configpack", str(packs_dir / "configpack"), ctx.keys, user)


def test_without_a_config_the_defaults_are_the_config(ctx, packs_dir):
    assert runtime(ctx, packs_dir) == {"region": "eu-west", "timeout": 30, "verify_ssl": True,
                                       "hosts": ["node1", "node2"], "auth": {"user": "stanley"}}


def test_st2kv_values_render_and_secret_items_are_decrypted(ctx, packs_dir):
    ctx.keys.set("key", "k-123", secret=True)
    ctx.keys.set("url", "https://svc.example")
    ctx.keys.set("region", "eu-north", scope="st2kv.user", user="alice")
    ctx.keys.set("pw", "pw-9", secret=True)
    write_config(ctx, {"api_url": "{{ st2kv.system.url }}", "api_key": "{{ st2kv.system.key }}",
                       "region": "{{ st2kv.user.region }}", "auth": {"password": "{{ st2kv.system.pw }}"},
                       "copy": "{{ st2kv.system.key | decrypt_kv }}", "sealed": "{{ st2kv.system.key }}",
                       "missing": "{{ st2kv.system.none }}"})
    config = runtime(ctx, packs_dir)
    assert config == {"api_url": "https://svc.example", "api_key": "k-123", "region": "eu-north",
                      "auth": {"password": "pw-9", "user": "stanley"}, "copy": "k-123",
                      "sealed": ctx.keys.get("key")["value"], "missing": None, "timeout": 30,
                      "verify_ssl": True, "hosts": ["node1", "node2"]}
    assert runtime(ctx, packs_dir, user="bob")["region"] is None  # another user's key is not there


def test_an_invalid_config_or_schema_fails_at_run_time_with_one_line(ctx, packs_dir):
    path = write_config(ctx, {"api_url": "https://x", "api_key": "k", "timeout": "soon"})
    with pytest.raises(PackConfigError) as caught:
        runtime(ctx, packs_dir)
    assert str(caught.value) == (f'Failed validating attribute "timeout" in config for pack "configpack" ({path}): '
                                 "'soon' is not of type 'integer'")
    schema_file(packs_dir).write_text("a: {type: [string, null]}\n")
    invalid = r"^The pack config schema .*config.schema.yaml is invalid: .*\(field 'attributes.a.type'\)$"
    with pytest.raises(PackConfigError, match=invalid):
        runtime(ctx, packs_dir)
    write_config(ctx, {**VALID, "api_key": "{{ st2kv.system.k | nope }}"})
    schema_file(packs_dir).write_text(json.dumps(SCHEMA))
    with pytest.raises(ParameterError, match='^Failed to render dynamic configuration value for key "api_key"'):
        runtime(ctx, packs_dir)


def test_runtime_defaults_follow_stackstorms_config_loader():
    """Keys the config has (even null) keep their value; an object with properties or an array with items
    that is missing or empty is made ({} / []) with its own defaults; patternProperties apply too."""
    schema = {"a": {"default": 1}, "o": {"type": "object", "properties": {"w": {"type": "object",
                                                                                 "properties": {"z": {"default": 2}}}}},
              "l": {"type": "array", "items": {"type": "string"}},
              "pp": {"type": "object", "patternProperties": {"^x": {"type": "object",
                                                                    "properties": {"d": {"default": 5}}}}}}
    assert fill_defaults({"a": None, "pp": {"xa": {}, "yb": {}}}, schema) == {
        "a": None, "o": {"w": {"z": 2}}, "l": [], "pp": {"xa": {"d": 5}, "yb": {}}}


def test_a_config_value_json_cannot_hold_is_refused_naming_the_file(ctx):
    path = write_config(ctx, "api_url: https://x\napi_key: k\nblob: !!binary aGVsbG8=\n")
    with pytest.raises(ContentError, match=rf'^Failed to register config "{path}" for pack "configpack": the config '
                                           r"holds a value JSON cannot represent \(Object of type bytes"):
        ctx.registrar.register(types=("configs",))

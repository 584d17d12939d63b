"""Fuzz every route of st2api and st2auth over plain HTTP.

Whatever a client sends (wrong methods, junk ids, junk query values, JSON of the wrong shape,
bytes that are not JSON, no credentials) must get an answer the CLI can print: never a 5xx, and
every 4xx a JSON object with StackStorm's `faultstring`. The routes come from the app's own
tables, so a new route is fuzzed without touching this file. Every distinct failure is collected
(one line of the server's traceback tells them apart) and reported together with the shortest
request that caused it, so one run lists all of them rather than the first.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest
import requests
from e2e_harness import ROOT, Appliance
from hypothesis import example, given, settings
from hypothesis import strategies as st

from appliance import config as config_module
from appliance.api.app import api_routes, auth_routes
from appliance.models import RULE_ENFORCEMENTS, new_id, now
from appliance.services.context import Context

pytestmark = pytest.mark.e2e

# Generated examples per responder, plus as many per value in the body it reads. On top of them, each
# body value is given every type of WRONG_TYPES in turn (explicit examples: reliable, and cheap).
EXAMPLES, EXAMPLES_PER_BODY_VALUE = 40, 10
WRONG_TYPES = (None, True, 0, -1, 1.5, "", "x", [], [1], {}, {"x": 1})
FUZZ = settings(deadline=None, derandomize=True, database=None)
RESPONDERS = ("GET", "POST", "PUT", "DELETE")
METHODS = (*RESPONDERS, "PATCH", "HEAD", "OPTIONS")
# What a request gets junk in, by the method it is aimed at: bodies where they are read.
ASPECTS = {"POST": ("body", "query", "body", "path", "body", "headers", "method", "all"),
           "PUT": ("body", "path", "body", "query", "body", "headers", "method", "all"),
           "GET": ("query", "path", "query", "headers", "method", "all", "body"),
           "DELETE": ("path", "query", "headers", "method", "all", "body")}
# Query parameters some route reads (and the token carriers), given junk values.
QUERY_PARAMS = ("limit", "offset", "include_attributes", "exclude_attributes", "show_secrets", "status",
                "action", "parent", "user", "timestamp_gt", "timestamp_lt", "sort_asc", "sort_desc", "runner",
                "liveaction", "trigger_instance", "rule", "id", "name", "pack", "ref", "runner_type",
                "output_type", "x-auth-token", "st2-api-key", "enabled", "trigger", "rule_ref", "rule_id", "execution",
                "enforced_at_gt", "enforced_at_lt")
# Body fields some route reads, and the keys found inside them (parameter specs, context).
BODY_FIELDS = ("action", "parameters", "context", "user", "delay", "status", "name", "pack", "runner_type",
               "enabled", "entry_point", "description", "tags", "notify", "output_schema", "metadata_file",
               "metadata", "key_hash", "id", "created_at", "packs", "types", "fail_on_failure", "ttl", "token",
               "tasks", "reset", "parent", "execution_id", "type", "default", "required", "secret", "immutable",
               "enum", "position", "p", "trigger", "criteria", "pattern", "url", "force", "skip_dependencies", "env",
               "ref_or_id", "query")
JUNK = ("..", "../..", "%00", "\x00", "a" * 5000, "null", "-1", "0", "1e309", "9" * 40, "true", "[]", "{}",
        "{{ 1/0 }}", "{{ st2kv.system.x }}", "<% 1 %>", "%", "%zz", "%ff", " ", "é/ü", "💥", ",", "a,b", "last")
# Junk for header values, sent as UTF-8; without control characters or outer spaces, which the HTTP
# server (or requests) itself rejects before the app sees them.
HEADER_JUNK = tuple(text.encode().decode("latin-1") for text in JUNK if text.isprintable() and text == text.strip())
RAW_QUERIES = ("limit=%zz", "%ff=1", "limit", "&&=", "offset=%00", "limit=1&limit=x", "include_attributes=.",
               "exclude_attributes=..,", "timestamp_gt=2020-13-45T99:00:00Z", "parent=null&status=a,b")
RAW_BODIES = (b"{", b"\xff\xfe", b'{"action": "\\ud800"}', b"[1,", b"1e999", b'{"ttl": 1e999}', b"\x00",
              b'{"a": 1, "a": 2}', b"nul", b'"', b"{}" * 3, b"18446744073709551616")
# A path value percent-encoded whole, with '/', '.' and '%' left as they are, or with dots encoded too.
ENCODINGS = (lambda v: urllib.parse.quote(v, safe=""), lambda v: urllib.parse.quote(v, safe="/.%"),
             lambda v: urllib.parse.quote(v, safe="").replace(".", "%2E"))
CONTENT_TYPES = ("application/json", None, "text/plain", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=x", "application/json; charset=latin-1")


@dataclass(frozen=True)
class Route:
    service: str  # "api" or "auth"
    template: str
    resource: str  # class name: routes sharing a resource share its bugs
    responders: tuple[str, ...]


@dataclass
class Seeds:
    """Real objects created before fuzzing, so junk meets real ids as well as unknown ones."""

    path_values: dict[str, list[str]]
    body_values: list
    valid_bodies: dict[str, dict]  # URI template -> a body it accepts, for the routes that read one
    token: str
    api_key: str
    password: str


@dataclass(frozen=True)
class Sent:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: Optional[bytes]

    def describe(self) -> str:
        body = "" if self.body is None else f"\n    body: {self.body[:300]!r}"
        headers = ", ".join(f"{k}: {v[:60]}" for k, v in self.headers)
        return f"{self.method} {self.url[:400]}\n    headers: {headers}{body}"


@dataclass
class Findings:
    """Distinct failures, each with the shortest request seen that caused it."""

    log_path: str
    offset: int = 0
    seen: dict = field(default_factory=dict)

    def add(self, route: Route, sent: Sent, answer: str, signature: str) -> None:
        key = (route.resource, sent.method, signature)
        text = f"{sent.describe()}\n    answer: {answer[:600]}"
        if key not in self.seen or len(text) < len(self.seen[key]):
            self.seen[key] = text

    def server_error(self) -> tuple[str, str]:
        """The last exception the server logged since the previous call: where it was raised and its
        type (what tells two bugs apart), and its message."""
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            handle.seek(self.offset)
            text = handle.read()
            self.offset = handle.tell()
        origin, last = "", ("no traceback logged", "")
        for line in text.splitlines():
            if line.startswith('  File "'):
                origin = line.strip()
            elif line and not line[0].isspace() and origin and not line[:4].isdigit():
                last = (f"{origin}: {line.partition(':')[0]}", line)
        return last

    def report(self) -> str:
        parts = [f"{len(self.seen)} distinct failure(s):"]
        for (resource, method, signature), text in sorted(self.seen.items()):
            parts.append(f"\n[{method} {resource}] {signature}\n    {text}")
        return "\n".join(parts)


def route_table(config_path: str) -> list[Route]:
    """Every URI template of st2api and st2auth, read from the app's own route functions."""
    ctx = Context(config_module.load(config_path))
    try:
        tables = {"api": api_routes(ctx), "auth": auth_routes(ctx)}
    finally:
        ctx.close()
    return [Route(service, template, type(resource).__name__,
                  tuple(m for m in RESPONDERS if hasattr(resource, f"on_{m.lower()}")))
            for service, table in tables.items() for template, resource in table.items()]


TRIGGER_TYPE = {"name": "fuzzed", "pack": "fuzz", "payload_schema": {"type": "object"}}


def _dispatch(app: Appliance, trigger: str) -> str:
    """A trigger instance stored in the appliance's database (no HTTP route creates one directly)."""
    ctx = Context(config_module.load(app.config_path))
    try:
        return ctx.triggers.dispatch(trigger, {})["id"]
    finally:
        ctx.close()


RULE = {"name": "fuzzed", "pack": "fuzz", "trigger": {"type": "core.st2.webhook", "parameters": {"url": "fuzz/rule"}},
        "criteria": {"trigger.body.a": {"type": "equals", "pattern": 1}}, "action": {"ref": "fuzz.fuzzed"}}


def _enforcement(app: Appliance, rule: dict, instance_id: str) -> str:
    """A rule enforcement stored as the rules engine stores one (no HTTP route creates one)."""
    ctx = Context(config_module.load(app.config_path))
    try:
        doc = RULE_ENFORCEMENTS.build({"id": new_id(), "key": f"{rule['id']}:{instance_id}", "status": "succeeded",
                                       "rule": {k: rule[k] for k in ("id", "ref", "uid")}, "enforced_at": now(),
                                       "trigger_instance_id": instance_id, "execution_id": new_id()})
        return ctx.store.collection(RULE_ENFORCEMENTS).insert(doc)["id"]
    finally:
        ctx.close()


def _sensor(app: Appliance) -> str:
    """The test sensor pack registered, its sensor disabled (fuzzing only flips it off); its id."""
    source = os.path.join(ROOT, "tests", "fixtures", "packs", "sensorpack")
    shutil.copytree(source, os.path.join(app.packs, "sensorpack"))
    registered = app.api("POST", "packs/register", json={"packs": ["sensorpack"]})
    assert registered.status_code == 200 and registered.json()["sensors"] == 1, registered.text
    disabled = app.api("PUT", "sensortypes/sensorpack.CounterSensor", json={"enabled": False})
    assert disabled.status_code == 200, disabled.text
    return disabled.json()["id"]


def make_seeds(app: Appliance) -> Seeds:
    trigger_type = app.api("POST", "triggertypes", json=TRIGGER_TYPE)
    assert trigger_type.status_code == 201, trigger_type.text
    instance_id = _dispatch(app, "fuzz.fuzzed")
    action = app.api("POST", "actions", json={"name": "fuzzed", "pack": "fuzz", "runner_type": "noop",
                                              "parameters": {"p": {"type": "string", "default": "x"}}})
    assert action.status_code == 201, action.text
    done = app.post_execution("core.noop")
    app.wait_status(done["id"])
    delayed = app.api("POST", "executions", json={"action": "core.noop", "delay": 3_600_000})
    assert delayed.status_code == 201, delayed.text
    inquiry = app.wait_status(app.post_execution("core.ask")["id"], ("pending",))
    key = app.api("POST", "apikeys", json={})
    assert key.status_code == 201, key.text
    rule = app.api("POST", "rules", json=RULE)
    assert rule.status_code == 201, rule.text
    enforcement_id = _enforcement(app, rule.json(), instance_id)
    rule_type_id = app.api("GET", "ruletypes").json()[0]["id"]
    webhook = app.api("POST", "triggers", json={"type": "core.st2.webhook", "parameters": {"url": "fuzz/hook"}})
    assert webhook.status_code == 201, webhook.text
    pack_id = app.api("GET", "packs/core").json()["id"]
    sensor_id = _sensor(app)
    app.add_fixture_pack("configpack")  # a pack with a config schema, for /config_schemas and /configs
    runner_id = app.api("GET", "runnertypes/noop").json()["id"]
    ids = [done["id"], delayed.json()["id"], action.json()["id"], key.json()["id"]]
    action_body = {"name": "fuzzed", "pack": "fuzz", "runner_type": "noop", "parameters": {"p": {"type": "string"}},
                   "enabled": True, "entry_point": "", "tags": [], "notify": {}, "output_schema": {}}
    return Seeds(
        path_values={
            "execution_id": [done["id"], delayed.json()["id"], "last"],
            "ref_or_id": ["fuzz.fuzzed", action.json()["id"], "core.noop", "core", pack_id, rule.json()["id"],
                          "sensorpack.CounterSensor", sensor_id],
            "name_or_id": ["noop", runner_id],
            "id_or_key": [key.json()["id"], key.json()["key"]],
            "instance_id": [instance_id],
            "rule_type": ["standard", rule_type_id],
            "enforcement_id": [enforcement_id],
            "hook:path": ["st2", "fuzz/hook"],
            "inquiry_id": [inquiry["id"], done["id"]],
            "pack_ref": ["configpack", "core"],
        },
        # Only the noop runner's actions: generated parameters must never reach a shell.
        body_values=["core.noop", "fuzz.fuzzed", "fuzz", "noop", "st2admin", app.token, *ids, 1000, 0, -1,
                     ["core"], ["actions"], "all", {"p": {"type": "string"}}],
        valid_bodies={
            "/executions": {"action": "fuzz.fuzzed", "parameters": {"p": "y"}, "user": "st2admin", "delay": 1000,
                            "context": {"parent": {"execution_id": done["id"]}}},
            "/executions/{execution_id}": {"status": "pausing"},
            "/executions/{execution_id}/re_run": {"parameters": {"p": "y"}, "tasks": [], "reset": [], "delay": 1},
            "/actions": action_body, "/actions/{ref_or_id}": action_body,
            "/runnertypes/{name_or_id}": {"enabled": True},
            "/apikeys": {"user": "st2admin", "key_hash": "0" * 128, "metadata": {}, "enabled": True},
            "/apikeys/{id_or_key}": {"metadata": {"a": 1}, "enabled": True},
            "/packs/register": {"packs": ["core"], "types": ["actions"], "fail_on_failure": True},
            # installs that fail at once (no pack index here), removals of a pack nobody has
            "/packs/install": {"packs": ["fuzz_absent"], "force": False, "skip_dependencies": False,
                               "env": {"PIP_NO_INDEX": "yes"}},
            "/packs/uninstall": {"packs": ["fuzz_absent"]}, "/packs/unload": {"packs": ["fuzz_absent"]},
            "/packs/index/search": {"query": "fuzz"},
            "/tokens": {"ttl": 60}, "/tokens/validate": {"token": app.token},
            "/triggertypes": TRIGGER_TYPE, "/triggertypes/{ref_or_id}": TRIGGER_TYPE,
            "/rules": RULE, "/rules/{ref_or_id}": RULE,
            "/webhooks/{hook:path}": {"trigger": "fuzz.fuzzed", "payload": {"a": 1}},
            "/sensortypes/{ref_or_id}": {"enabled": False},
            "/inquiries/{inquiry_id}": {"id": inquiry["id"], "response": {"continue": True}},
            "/configs/{pack_ref}": {"api_url": "https://x", "api_key": "k", "hosts": ["a"], "auth": {"user": "u"}},
        },
        token=app.token, api_key=key.json()["key"], password=app.password,
    )


def _put_back(app: Appliance, collection: str, ref: str, body: dict) -> None:
    """`body` stored again at `collection/ref`, or created again when a fuzzed DELETE took it."""
    put = app.api("PUT", f"{collection}/{ref}", json=body)
    if put.status_code == 404:
        created = app.api("POST", collection, json=body)
        assert created.status_code == 201, created.text
    else:
        assert put.status_code == 200, put.text


def restore(app: Appliance, seeds: Seeds) -> None:
    """Undo what fuzzing a route did to the action, runner and rule the next routes' valid bodies use."""
    _put_back(app, "actions", "fuzz.fuzzed", seeds.valid_bodies["/actions"])
    _put_back(app, "rules", "fuzz.fuzzed", RULE)  # after its action: a rule's action must exist
    assert app.api("PUT", "runnertypes/noop", json={"enabled": True}).status_code == 200
    assert app.api("PUT", "sensortypes/sensorpack.CounterSensor", json={"enabled": False}).status_code == 200
    if app.api("GET", "triggertypes/fuzz.fuzzed").status_code == 404:  # a fuzzed DELETE took it
        assert app.api("POST", "triggertypes", json=TRIGGER_TYPE).status_code == 201


def junk_text() -> st.SearchStrategy:
    return st.one_of(st.text(max_size=20), st.sampled_from(JUNK))


def json_values(seeds: Seeds) -> st.SearchStrategy:
    """Any JSON, with the field names routes read as keys and real values among the leaves."""
    leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                       junk_text(), st.sampled_from(seeds.body_values))
    keys = st.one_of(st.sampled_from(BODY_FIELDS), st.text(max_size=8))
    return st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(keys, inner, max_size=5)), max_leaves=12)


def valid_body(route: Route, seeds: Seeds) -> dict:
    return seeds.valid_bodies.get(route.template.replace("/actionexecutions", "/executions", 1), {})


def bodies(route: Route, seeds: Seeds) -> st.SearchStrategy:
    """The route's valid body with one value (at any depth) of another type, with extra fields or
    with fields left out; any JSON; bytes that are not JSON; no body."""
    valid = valid_body(route, seeds)
    values = json_values(seeds)
    wrong = st.one_of(st.lists(values, min_size=1, max_size=3), junk_text(), st.integers(),
                      st.dictionaries(st.sampled_from(BODY_FIELDS), values, min_size=1, max_size=3),
                      st.booleans(), st.floats(allow_nan=False, allow_infinity=False), st.none(), values)
    added = st.dictionaries(st.sampled_from(BODY_FIELDS), values, min_size=1, max_size=3)
    documents = [added.map(lambda extra: {**valid, **extra}), values]
    if valid:
        one_wrong = st.tuples(st.sampled_from(paths_in(valid)), wrong).map(lambda pair: replaced_at(valid, *pair))
        left_out = st.sets(st.sampled_from(sorted(valid)), min_size=1).map(
            lambda gone: {k: v for k, v in valid.items() if k not in gone})
        documents = [one_wrong, one_wrong, left_out, *documents]
    as_json = st.one_of(documents).map(lambda doc: json.dumps(doc).encode())
    return st.one_of(as_json, as_json, as_json, st.binary(max_size=40), st.sampled_from(RAW_BODIES), st.none())


def paths_in(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """The path (keys and indexes) of every value inside a JSON document."""
    found = [prefix] if prefix else []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        found += paths_in(value, (*prefix, key))
    return found


def replaced_at(doc: Any, path: tuple, value: Any) -> Any:
    """A copy of `doc` with the value at `path` replaced."""
    if not path:
        return value
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = replaced_at(doc[path[0]], path[1:], value)
    return copy


def path_value(name: str, seeds: Seeds) -> st.SearchStrategy:
    """A real value or junk, in one of the ENCODINGS."""
    value = st.one_of(st.sampled_from(seeds.path_values[name]), junk_text())
    return st.tuples(value, st.sampled_from(ENCODINGS)).map(lambda pair: pair[1](pair[0]))


def queries(seeds: Seeds) -> st.SearchStrategy:
    value = st.one_of(junk_text(), st.integers().map(str), st.sampled_from([str(v) for v in seeds.body_values]))
    pairs = st.lists(st.tuples(st.one_of(st.sampled_from(QUERY_PARAMS), st.text(max_size=8)), value), max_size=5)
    return st.one_of(pairs.map(urllib.parse.urlencode), st.sampled_from(RAW_QUERIES))


def credentials(route: Route, seeds: Seeds) -> st.SearchStrategy:
    """Header pairs with valid, wrong, malformed or no credentials."""
    if route.service == "auth":
        def basic(user: bytes, password: bytes) -> tuple:
            return (("Authorization", "Basic " + base64.b64encode(user + b":" + password).decode()),)

        return st.sampled_from([valid_credentials(route, seeds), basic(b"st2admin", b"wrong"), basic(b"\xff", b"\xfe"),
                                (("Authorization", "Basic !!!"),), (("Authorization", "Bearer x"),), ()])
    return st.sampled_from([valid_credentials(route, seeds), (("St2-Api-Key", seeds.api_key),),
                            (("X-Auth-Token", "not-a-token"),), ()])


def valid_credentials(route: Route, seeds: Seeds) -> tuple:
    if route.service == "auth":
        token = base64.b64encode(f"st2admin:{seeds.password}".encode()).decode()
        return (("Authorization", f"Basic {token}"),)
    return (("X-Auth-Token", seeds.token),)


@st.composite
def requests_for(draw, route: Route, method: str, seeds: Seeds, base: str) -> Sent:
    """One request aimed at a responder: mostly a valid one with junk in one aspect, so that the junk
    gets past the checks of the other aspects; sometimes junk everywhere (the method included)."""
    aspect = draw(st.sampled_from(ASPECTS[method]))

    def junk(name: str) -> bool:
        return aspect in (name, "all")

    if junk("method"):
        method = draw(st.sampled_from(METHODS))
    path = route.template
    for name, reals in seeds.path_values.items():
        if f"{{{name}}}" in path:
            value = draw(path_value(name, seeds) if junk("path") else st.sampled_from(reals))
            path = path.replace(f"{{{name}}}", value)
    if route.service == "api":
        path = draw(st.sampled_from(("/v1", ""))) + path
    path += draw(st.sampled_from(("", "/")))
    query = draw(queries(seeds)) if junk("query") else ""
    url = base + path.replace("//", "/") + (f"?{query}" if query else "")
    headers = list(draw(credentials(route, seeds)) if junk("headers") else valid_credentials(route, seeds))
    content_type = draw(st.sampled_from(CONTENT_TYPES)) if junk("headers") else "application/json"
    if content_type:
        headers.append(("Content-Type", content_type))
    if junk("headers"):
        context = draw(st.one_of(st.none(), json_values(seeds).map(json.dumps), st.sampled_from(HEADER_JUNK)))
        if context is not None:
            headers.append(("St2-Context", context))
    valid = valid_body(route, seeds)
    body = draw(bodies(route, seeds)) if junk("body") else json.dumps(valid).encode() if valid else None
    return Sent(method, url, tuple(headers), body)


def type_confusions(route: Route, method: str, seeds: Seeds, base: str) -> list[Sent]:
    """The valid request with each value of its body, in turn, of every type in WRONG_TYPES."""
    valid = valid_body(route, seeds)
    path = route.template
    for name, reals in seeds.path_values.items():
        path = path.replace(f"{{{name}}}", reals[0])
    url = base + ("/v1" if route.service == "api" else "") + path
    headers = (*valid_credentials(route, seeds), ("Content-Type", "application/json"))
    return [Sent(method, url, headers, json.dumps(replaced_at(valid, at, wrong)).encode())
            for at in paths_in(valid) for wrong in WRONG_TYPES]


def check(sent: Sent, resp: requests.Response, route: Route, findings: Findings) -> None:
    """Record a 5xx (with the server's traceback line) or a 4xx the CLI could not print."""
    if resp.status_code >= 500:
        signature, message = findings.server_error()
        findings.add(route, sent, f"{resp.status_code} {resp.text}\n    server: {message}", signature)
    elif resp.status_code >= 400 and sent.method != "HEAD":
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not (isinstance(body, dict) and isinstance(body.get("faultstring"), str)):
            findings.add(route, sent, f"{resp.status_code} {resp.text}", f"{resp.status_code} without faultstring")


def fuzz_responder(route: Route, method: str, seeds: Seeds, base: str, session: requests.Session,
                   findings: Findings) -> dict:
    """Run the examples aimed at one responder; returns how many answers each status code got."""
    statuses: dict[int, int] = {}
    body_paths = len(paths_in(valid_body(route, seeds))) if method in ("POST", "PUT") else 0

    @settings(FUZZ, max_examples=EXAMPLES + EXAMPLES_PER_BODY_VALUE * body_paths)
    @given(requests_for(route, method, seeds, base))
    def one_request(sent: Sent) -> None:
        prepared = session.prepare_request(requests.Request(sent.method, sent.url, dict(sent.headers),
                                                            data=sent.body))
        prepared.url = sent.url  # as generated: requests would resolve '..' and decode '%2E'
        try:
            resp = session.send(prepared, timeout=30, allow_redirects=False)
        except requests.RequestException as exc:
            findings.add(route, sent, "no answer", f"no answer: {type(exc).__name__}")
            return
        statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
        check(sent, resp, route, findings)

    if body_paths:
        for sent in type_confusions(route, method, seeds, base):
            one_request = example(sent)(one_request)
    one_request()
    return statuses


def test_no_request_gets_a_server_error(fresh_appliance):
    app: Appliance = fresh_appliance("fuzz")
    seeds = make_seeds(app)
    routes = route_table(app.config_path)
    assert {"/executions/{execution_id}", "/apikeys/{id_or_key}", "/tokens"} <= {r.template for r in routes}
    findings = Findings(app.log_path)
    findings.server_error()  # skip what start-up logged
    reached = {}
    with requests.Session() as session:
        for route in routes:
            base = app.auth_url if route.service == "auth" else f"http://127.0.0.1:{app.api_port}"
            for method in route.responders:
                restore(app, seeds)
                statuses = fuzz_responder(route, method, seeds, base, session, findings)
                reached[method, route.template] = sorted(code for code in statuses if code not in (401, 404, 405))
    if findings.seen:
        pytest.fail(findings.report(), pytrace=False)
    # The fuzz got past authentication and routing into every responder, not only into 401/404/405.
    assert all(reached.values()), [key for key, codes in reached.items() if not codes]

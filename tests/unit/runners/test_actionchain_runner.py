"""The action-chain runner: the chain document, its templates and casts, the decisions node after node (with
children faked), then chains run by st2actionrunner over a real store (children requested, awaited, canceled)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Optional

import pytest
from actionchain_runner.actionchain_runner import ActionChainRunner
from actionchain_runner.chain import ChainError, load, parse
from actionchain_runner.rendering import RenderError, cast, render_mapping

from appliance import models
from appliance.action_requests import RequestError
from appliance.runners import RunContext
from appliance.services.actionrunner import ActionRunnerService

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SPECS = {"core.echo": {"message": {"type": "string"}},
         "core.local": {"cmd": {"type": "string"}, "timeout": {"type": "integer"}},
         "core.noop": {},
         "core.list": {"items": {"type": "array"}, "options": {"type": "object"}, "flag": {"type": "boolean"},
                       "ratio": {"type": "number"}}}


# -- the chain document ---------------------------------------------------------------------------------------
def _nodes(*names: str, **routes: dict) -> list[dict]:
    return [{"name": name, "ref": "core.noop", **routes.get(name, {})} for name in names]


def test_the_start_is_default_else_the_first_node_nothing_leads_to_else_the_first():
    assert parse({"chain": _nodes("a", "b"), "default": "b"}).start.name == "b"
    assert parse({"chain": _nodes("a", "b", a={"on-failure": "b"})}).start.name == "a"
    assert parse({"chain": _nodes("a", "b", a={"on-success": "b"}, b={"on-failure": "a"})}).start.name == "a"
    assert parse({"chain": _nodes("b", "a", b={"on-success": "a"}, a={"on-success": "b"})}).start.name == "b"
    assert parse({"chain": _nodes("a", "b", a={"on-success": "b"})[::-1]}).start.name == "a"


def test_params_and_parameters_are_the_same_and_routes_default_to_the_end():
    chain = parse({"chain": [{"name": "a", "ref": "core.echo", "parameters": {"message": "x"}, "on-success": None},
                             {"name": "b", "ref": "core.echo", "params": {"message": "y"}}]})
    assert [node.parameters for node in chain.nodes] == [{"message": "x"}, {"message": "y"}]
    assert chain.next(chain.nodes[0], "on-success") is None and chain.nodes[1].routes == {"on-success": "",
                                                                                          "on-failure": ""}


@pytest.mark.parametrize("document, message", [
    ({"chain": [{"name": "a"}]}, "'ref' is a required property (at chain.0)"),
    ({"chain": [{"name": "a", "ref": "core.noop", "on-sucess": "b"}]}, "Additional properties are not allowed"),
    ({"chain": [{"name": "a", "ref": "core.noop"}], "extra": 1}, "Additional properties are not allowed"),
    ({"vars": {}}, "'chain' is a required property"),
    ({"chain": []}, "The chain has no node to run."),
    ({"chain": [{"name": "a", "ref": "core.noop", "on-success": "b"}]},
     'Unable to find node with name "b" referenced in "on-success" in task "a".'),
    ({"chain": [{"name": "a", "ref": "core.noop", "on-failure": "b"}]},
     'Unable to find node with name "b" referenced in "on-failure" in task "a".'),
    ({"chain": [{"name": "a", "ref": "core.noop"}], "default": "z"},
     'Unable to find node with name "z" referenced in "default".'),
    ({"chain": [{"name": "a", "ref": "core.echo", "params": {"message": "x"}, "parameters": {"message": "y"}}]},
     'Task "a": either "params" or "parameters" needs to be given, not both.'),
])
def test_a_chain_that_cannot_run_is_refused_before_it_starts(document, message):
    with pytest.raises(ChainError) as caught:
        parse(document)
    assert message in str(caught.value)


@pytest.mark.parametrize("text, message", [("chain: [a\n", "Failed to parse action chain definition from"),
                                           ("- a\n", "it must be a mapping, not list.")])
def test_a_file_that_is_no_chain_is_refused(tmp_path, text, message):
    path = tmp_path / "chain.yaml"
    path.write_text(text)
    with pytest.raises(ChainError, match=message):
        load(str(path))
    with pytest.raises(ChainError, match="No such file"):
        load(str(tmp_path / "missing.yaml"))


# -- templates and casts --------------------------------------------------------------------------------------
def test_each_value_renders_over_the_scope_alone_and_untemplated_values_keep_their_type():
    values = {"a": "{{ b }}!", "b": "own", "n": 3, "deep": {"list": ["{{ x | upper }}", 1]}, "flag": True}
    assert render_mapping(values, {"b": "scope", "x": "y"}) == {
        "a": "scope!", "b": "own", "n": 3, "deep": {"list": ["Y", 1]}, "flag": True}


def test_a_template_that_fails_names_its_key_and_text():
    with pytest.raises(RenderError) as caught:
        render_mapping({"ok": "{{ a }}", "bad": {"inner": "{{ missing.x }}"}}, {"a": 1})
    assert (caught.value.key, caught.value.template, str(caught.value)) == (
        "bad", "{{ missing.x }}", "'missing' is undefined")


def test_the_sandbox_holds_in_chains():
    with pytest.raises(RenderError, match="unsafe"):
        render_mapping({"x": "{{ cycler.__init__.__globals__ }}"}, {"cycler": object()})


def test_rendered_text_gets_the_declared_type_and_text_that_does_not_convert_stays():
    rendered = {"items": "['a', 'b']", "options": '{"k": 1}', "flag": "True", "ratio": "0.5", "other": "7"}
    assert cast(rendered, SPECS["core.list"]) == {"items": ["a", "b"], "options": {"k": 1}, "flag": True,
                                                  "ratio": 0.5, "other": "7"}
    assert cast({"timeout": "soon", "cmd": "%*****__%NONE%__*****%"}, SPECS["core.local"]) == {
        "timeout": "soon", "cmd": None}
    assert cast({"items": "[1, 2", "flag": "maybe"}, SPECS["core.list"]) == {"items": "[1, 2", "flag": "maybe"}


# -- the runner, its children faked ---------------------------------------------------------------------------
class Children:
    """run_child for the runner alone: each node's outcome by node name, succeeding with its message by default."""

    def __init__(self, outcomes: Optional[dict] = None, refuse: tuple = (), during: Optional[Callable] = None):
        self.outcomes = outcomes or {}
        self.refuse = refuse
        self.during = during
        self.calls: list[tuple[str, dict, dict]] = []
        self.notify: dict[str, tuple] = {}  # node name -> (notify, skip_notify) it was run with

    def __call__(self, ref: str, parameters: dict, context: dict, notify: Optional[dict] = None,
                 skip_notify: bool = False) -> dict:
        name = context["chain"]["name"]
        self.calls.append((ref, parameters, context))
        self.notify[name] = (notify, skip_notify)
        if name in self.refuse:
            raise RequestError(f'Action "{ref}" refused the request.')
        if self.during:
            self.during()
        status, result = self.outcomes.get(name, (models.SUCCEEDED, {"stdout": parameters.get("message", "")}))
        return {"id": f"ex-{name}", "liveaction": {"id": f"la-{name}"}, "status": status, "result": result}

    @property
    def names(self) -> list[str]:
        return [context["chain"]["name"] for _, _, context in self.calls]


def chain_ctx(tmp_path, document: str, children: Children, parameters: Optional[dict] = None,
              runner_parameters: Optional[dict] = None) -> RunContext:
    path = tmp_path / "chain.yaml"
    path.write_text(document)
    return RunContext(execution_id="ex-chain", action={"ref": "chaintest.c", "pack": "chaintest"},
                      runner_parameters=runner_parameters or {"display_published": True},
                      action_parameters=parameters or {}, entry_point=str(path), pack_path=str(tmp_path),
                      virtualenv="", env={}, user="ada", pack_config={"region": "eu"}, run_child=children,
                      action_specs=SPECS.get, st2kv=lambda: {"system": {"site": "hpc1"}, "user": {}})


def run_chain(tmp_path, document: str, children: Children, parameters: Optional[dict] = None,
              runner_parameters: Optional[dict] = None) -> tuple[str, dict]:
    outcome = ActionChainRunner().run(chain_ctx(tmp_path, document, children, parameters, runner_parameters))
    return outcome.status, outcome.result


SEQUENCE = """
vars:
  greeting: "hello {{ who }} at {{ st2kv.system.site }}"
chain:
  - name: say
    ref: core.echo
    params:
      message: "{{ greeting }}"
    publish:
      said: "{{ say.stdout }}"
      count: "{{ say.stdout | length }}"
    on-success: shout
  - name: shout
    ref: core.local
    params:
      cmd: "echo {{ said | upper }} {{ __results.say.stdout }} {{ config_context.region }} {{ system.site }}"
      timeout: "{{ count | int + 1 }}"
      env: {"FROM": "{{ action_context.parent.execution_id }}", "USER": "{{ action_context.parent.user }}"}
"""


def test_nodes_run_in_order_with_templates_over_parameters_vars_results_and_published_values(tmp_path):
    children = Children()
    status, result = run_chain(tmp_path, SEQUENCE, children, {"who": "ada"})
    assert status == models.SUCCEEDED
    assert children.names == ["say", "shout"]
    assert children.calls[0][:2] == ("core.echo", {"message": "hello ada at hpc1"})
    assert children.calls[1][1] == {"cmd": "echo HELLO ADA AT HPC1 hello ada at hpc1 eu hpc1", "timeout": 18,
                                    "env": {"FROM": "ex-chain", "USER": "ada"}}
    assert children.calls[0][2] == {"chain": {"name": "say", "ref": "core.echo",
                                              "params": {"message": "{{ greeting }}"},
                                              "publish": {"said": "{{ say.stdout }}",
                                                          "count": "{{ say.stdout | length }}"},
                                              "on-success": "shout"}}
    assert result["published"] == {"said": "hello ada at hpc1", "count": "17"}
    assert list(result) == ["tasks", "published"]
    first, second = result["tasks"]
    assert set(first) == {"id", "name", "execution_id", "liveaction_id", "workflow", "created_at", "updated_at",
                          "state", "result"}
    assert (first["id"], first["name"], first["execution_id"], first["liveaction_id"], first["state"],
            first["workflow"], first["result"]) == ("say", "say", "ex-say", "la-say", "succeeded", None,
                                                    {"stdout": "hello ada at hpc1"})
    assert first["created_at"] <= first["updated_at"] <= second["created_at"]
    assert first["created_at"].endswith("Z")


RECOVER = """
chain:
  - name: attempt
    ref: core.local
    params: {cmd: "false"}
    on-success: done
    on-failure: cleanup
  - name: cleanup
    ref: core.echo
    params: {message: "after {{ attempt.return_code }}"}
  - name: done
    ref: core.noop
"""


@pytest.mark.parametrize("attempt, cleanup, expected, names", [
    (models.SUCCEEDED, models.SUCCEEDED, models.SUCCEEDED, ["attempt", "done"]),
    (models.FAILED, models.SUCCEEDED, models.SUCCEEDED, ["attempt", "cleanup"]),  # handled: the last node decides
    (models.TIMEOUT, models.SUCCEEDED, models.SUCCEEDED, ["attempt", "cleanup"]),
    (models.ABANDONED, models.FAILED, models.FAILED, ["attempt", "cleanup"]),
    (models.FAILED, models.TIMEOUT, models.TIMEOUT, ["attempt", "cleanup"]),
    (models.CANCELED, models.SUCCEEDED, models.CANCELED, ["attempt"]),  # a canceled node ends the chain
])
def test_the_chain_status_is_the_last_node_s_and_failures_take_on_failure(tmp_path, attempt, cleanup, expected,
                                                                          names):
    children = Children({"attempt": (attempt, {"return_code": 3}), "cleanup": (cleanup, {})})
    status, result = run_chain(tmp_path, RECOVER, children)
    assert (status, children.names) == (expected, names)
    assert [task["name"] for task in result["tasks"]] == names and result["tasks"][0]["state"] == attempt
    assert "error" not in result
    if "cleanup" in names:
        assert children.calls[1][1] == {"message": "after 3"}


def test_a_failure_with_nowhere_to_go_fails_the_chain_without_a_top_level_error(tmp_path):
    children = Children({"attempt": (models.FAILED, {"return_code": 1})})
    status, result = run_chain(tmp_path, "chain:\n  - {name: attempt, ref: core.local, params: {cmd: x},"
                                         " on-success: more}\n  - {name: more, ref: core.noop}\n", children)
    assert (status, children.names) == (models.FAILED, ["attempt"])
    assert result == {"tasks": result["tasks"], "published": {}} and result["tasks"][0]["state"] == "failed"


def test_a_request_refused_is_a_failed_task_without_execution_that_takes_on_failure(tmp_path):
    children = Children(refuse=("attempt",))
    status, result = run_chain(tmp_path, RECOVER.replace("attempt.return_code", "attempt.error"), children)
    assert (status, children.names) == (models.SUCCEEDED, ["attempt", "cleanup"])
    assert children.calls[1][1] == {"message": 'after Failed running task "attempt". Action "core.local" refused '
                                               "the request."}
    task = result["tasks"][0]
    assert (task["state"], task["execution_id"], task["liveaction_id"]) == ("failed", None, None)
    assert task["result"]["error"] == 'Failed running task "attempt". Action "core.local" refused the request.'
    assert "RequestError" in task["result"]["traceback"]


@pytest.mark.parametrize("document, error", [
    ("chain:\n  - {name: first, ref: core.echo, params: {message: '{{ nowhere.stdout }}'}}\n",
     'Failed to run task "first". Parameter rendering failed: failed rendering value for action parameter "message" '
     'in task "first" (template string={{ nowhere.stdout }}): \'nowhere\' is undefined'),
    ("chain:\n  - {name: first, ref: pack.ghost}\n",
     'Failed to run task "first". Action with reference "pack.ghost" doesn\'t exist.'),
    ("vars: {a: '{{ 1 / 0 }}'}\nchain:\n  - {name: first, ref: core.noop}\n",
     "Failed initializing ``vars`` in chain. division by zero"),
])
def test_what_cannot_run_fails_the_chain_at_once_with_a_top_level_error(tmp_path, document, error):
    children = Children()
    status, result = run_chain(tmp_path, document, children)
    assert (status, children.names) == (models.FAILED, [])
    assert result["tasks"] == [] and result["error"] == error and "Traceback" in result["traceback"]


def test_a_publish_that_does_not_render_records_the_task_and_fails_the_chain(tmp_path):
    children = Children()
    status, result = run_chain(tmp_path, "chain:\n  - {name: a, ref: core.noop, publish: {x: '{{ a.nope }}'},"
                                         " on-success: b}\n  - {name: b, ref: core.noop}\n", children)
    assert (status, children.names, len(result["tasks"])) == (models.FAILED, ["a"], 1)
    assert result["error"].startswith('Failed rendering value for publish parameter "x" in task "a" '
                                      "(template string={{ a.nope }}): ")


def test_a_route_written_as_an_expression_passes_the_check_and_fails_when_taken(tmp_path):
    children = Children()
    status, result = run_chain(tmp_path, "chain:\n  - {name: a, ref: core.noop, on-success: '{{ next }}'}\n",
                               children)
    assert (status, children.names) == (models.FAILED, ["a"])
    assert result["error"] == 'Failed to get next node "a". Unable to find node with name "{{ next }}".'


def test_display_published_false_keeps_published_values_out_of_the_result(tmp_path):
    children = Children()
    status, result = run_chain(tmp_path, SEQUENCE, children, {"who": "bob"}, {"display_published": False})
    assert status == models.SUCCEEDED and list(result) == ["tasks"]
    assert children.calls[1][1]["cmd"].startswith("echo HELLO BOB")  # published values still reach templates


def test_a_cancel_during_a_node_stops_the_chain_canceled(tmp_path):
    children = Children()
    ctx = chain_ctx(tmp_path, RECOVER, children)
    children.during = ctx.cancel.set
    outcome = ActionChainRunner().run(ctx)
    assert (outcome.status, children.names) == (models.CANCELED, ["attempt"])


def test_a_broken_chain_file_fails_the_execution_with_one_error(tmp_path):
    status, result = run_chain(tmp_path, "chain:\n  - {name: a}\n", Children())
    assert (status, result) == (models.FAILED, {"error": "'ref' is a required property (at chain.0)"})


# -- chains run by st2actionrunner ----------------------------------------------------------------------------
@pytest.fixture
def chain_service(make_ctx):
    """An action runner over a real store with core and chaintest registered, and a stand-in scheduler that runs
    every requested execution in that runner; control messages (cancel) reach it directly."""
    ctx = make_ctx()
    registrar = ctx.registrar
    registrar.register_runners()
    core = os.path.join(REPO, "packs", "core")
    registrar.register_pack(core, with_actions=False)
    for name in ("echo", "local", "noop"):  # those the chains run, whatever else core holds
        registrar.register_action("core", core, os.path.join(core, "actions", f"{name}.yaml"))
    registrar.register_pack(os.path.join(REPO, "tests", "fixtures", "packs", "chaintest"))
    service = ActionRunnerService(ctx)
    ctx.bus.send_control = lambda body: service._on_control("", body)  # the broadcast, without consumers
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def schedule() -> None:
        while not stop.is_set():
            for doc in ctx.executions.coll.find({"status": models.REQUESTED}):
                if ctx.executions.transition(doc["id"], models.SCHEDULED, (models.REQUESTED,)):
                    threads.append(threading.Thread(target=service.run, args=(doc["id"],)))
                    threads[-1].start()
            stop.wait(0.02)

    scheduler = threading.Thread(target=schedule)
    scheduler.start()
    yield ctx, service
    stop.set()
    scheduler.join()
    service.stop()
    for thread in threads:
        thread.join(30)


def _wait(predicate: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_st2actionrunner_runs_each_node_as_a_child_of_the_chain(chain_service):
    ctx, _ = chain_service
    chain = ctx.action_requests.request("chaintest.greet", {"who": "ada"}, {}, "st2admin")
    done = _wait(lambda: (doc := ctx.executions.get(chain["id"]))["status"] in models.COMPLETED_STATUSES and doc)
    assert done["status"] == models.SUCCEEDED, done["result"]
    assert done["result"]["published"] == {"said": "hello ada", "loud": "HELLO ADA from chaintest"}
    children = ctx.executions.coll.find({"parent": chain["id"]}, sort=[("start_timestamp", 1)])
    assert [(c["context"]["chain"]["name"], c["action"]["ref"], c["status"]) for c in children] == [
        ("say", "core.echo", "succeeded"), ("shout", "core.local", "succeeded")]
    assert children[0]["context"]["parent"] == {"execution_id": chain["id"], "user": "st2admin", "pack": "chaintest"}
    assert children[0]["context"]["user"] == "st2admin"
    assert [task["execution_id"] for task in done["result"]["tasks"]] == [c["id"] for c in children]


def test_chain_children_notify_with_the_chain_s_notify_except_the_nodes_in_skip_notify(chain_service):
    ctx, _ = chain_service
    notify = {"on-complete": {"routes": ["ops"]}}
    chain = ctx.action_requests.request("chaintest.greet", {"who": "ada", "skip_notify": ["shout"]}, {}, "st2admin",
                                        notify=notify)
    _wait(lambda: ctx.executions.get(chain["id"])["status"] in models.COMPLETED_STATUSES)
    say, shout = ctx.executions.coll.find({"parent": chain["id"]}, sort=[("start_timestamp", 1)])
    assert say["liveaction"]["notify"] == notify and "notify" not in shout["liveaction"]


def test_canceling_the_chain_cancels_its_running_child_and_starts_nothing_more(chain_service):
    ctx, _ = chain_service
    chain = ctx.action_requests.request("chaintest.slow", {"seconds": 30}, {}, "st2admin")
    nap = _wait(lambda: ctx.executions.coll.find({"parent": chain["id"], "status": models.RUNNING}))[0]
    assert nap["parameters"]["timeout"] == 60  # rendered text cast to the integer core.local declares
    assert ctx.executions.transition(chain["id"], models.CANCELING, (models.RUNNING,))
    ctx.bus.send_control({"action": "cancel", "execution_id": chain["id"]})  # as DELETE /v1/executions does
    done = _wait(lambda: (doc := ctx.executions.get(chain["id"]))["status"] in models.COMPLETED_STATUSES and doc,
                 timeout=20)
    assert done["status"] == models.CANCELED
    children = ctx.executions.coll.find({"parent": chain["id"]})
    assert [(c["context"]["chain"]["name"], c["status"]) for c in children] == [("nap", models.CANCELED)]
    assert [task["state"] for task in done["result"]["tasks"]] == [models.CANCELED]


def test_a_pause_between_nodes_stores_the_vars_and_a_resume_runs_the_rest_with_them(tmp_path):
    children = Children()
    ctx = chain_ctx(tmp_path, SEQUENCE, children, {"who": "ada"})
    ctx.pause_requested = lambda: True
    paused = ActionChainRunner().run(ctx)
    assert (paused.status, children.names) == (models.PAUSED, ["say"])
    assert paused.context == {"vars": {"greeting": "hello ada at hpc1", "said": "hello ada at hpc1", "count": "17"}}
    ctx = chain_ctx(tmp_path, SEQUENCE, children, {"who": "ada"})
    ctx.resumed = {"result": paused.result, "context": {"user": "ada", **paused.context}}
    done = ActionChainRunner().run(ctx)
    assert (done.status, children.names) == (models.SUCCEEDED, ["say", "shout"])
    assert children.calls[1][1]["cmd"] == "echo HELLO ADA AT HPC1 hello ada at hpc1 eu hpc1"
    assert [task["name"] for task in done.result["tasks"]] == ["say", "shout"] and done.context == {}


def test_a_node_that_paused_pauses_the_chain_and_is_resumed_first_when_the_chain_resumes(tmp_path):
    children = Children({"say": (models.PAUSED, None)})
    paused = ActionChainRunner().run(chain_ctx(tmp_path, SEQUENCE, children, {"who": "bo"}))
    assert paused.status == models.PAUSED and [t["state"] for t in paused.result["tasks"]] == ["paused"]
    ctx = chain_ctx(tmp_path, SEQUENCE, children, {"who": "bo"})
    ctx.resumed = {"result": paused.result, "context": paused.context}
    resumed: list = []
    ctx.resume_child = lambda execution_id: resumed.append(execution_id) or {
        "id": execution_id, "liveaction": {"id": "la-say"}, "status": models.SUCCEEDED, "result": {"stdout": "hi"}}
    done = ActionChainRunner().run(ctx)
    assert resumed == ["ex-say"] and children.names == ["say", "shout"]
    assert done.status == models.SUCCEEDED and [t["state"] for t in done.result["tasks"]] == ["succeeded"] * 2
    assert done.result["published"]["said"] == "hi"

"""The runtime, driven with simulated action completions. Expected statuses, actions, errors and outputs are
those StackStorm 3.9's orquesta gives for the same workflow and the same events (checked side by side)."""

import json
import time

import pytest

from appliance.workflows.conductor import ITEM_CODES, Conductor, ConductorError, Host
from appliance.workflows.spec import parse

FAILED_ENTRY = "Execution failed. See result for details."


class Run:
    """A workflow under test: every call goes through a fresh Conductor over the JSON round trip of the state,
    as the engine does after storing it; the host keeps item results like the engine's task records."""

    def __init__(self, document, inputs=None, context=None, **host):
        self.item_results = {}
        self.host = Host(item_results=lambda t, r: list(self.item_results[(t, r)]), **host)
        self.spec = parse(document)
        self.conductor = Conductor.start(self.spec, inputs or {}, context or {}, self.host)
        self.actions = self._seen(self._fresh().run()) if self.conductor.status != "failed" else []

    def _fresh(self):
        self.conductor = Conductor(self.spec, json.loads(json.dumps(self.conductor.state)), self.host)
        return self.conductor

    def _seen(self, requests):
        for request in requests:
            if request.items_count is not None:
                self.item_results.setdefault((request.task_id, request.route), [None] * request.items_count)
        return requests

    def done(self, task, status="succeeded", result=None, route=0, item=None):
        if item is not None:
            self.item_results[(task, route)][item] = result
        self.actions = self._seen(self._fresh().update(task, route, status, result if result is not None else {}, item))
        return self

    def call(self, name, *args):
        self.actions = self._seen(getattr(self._fresh(), name)(*args) or [])
        return self

    @property
    def names(self):
        return [(a.task_id, a.route) if a.item_id is None else (a.task_id, a.item_id) for a in self.actions]

    @property
    def status(self):
        return self.conductor.status

    @property
    def errors(self):
        return self.conductor.errors

    @property
    def output(self):
        return self.conductor.output


def test_sequence_input_vars_publish_and_output():
    run = Run(
        """
version: 1.0
input: [name, {greeting: "hi <% ctx().name %>"}]
vars: [{count: 1}]
output: [{msg: <% ctx().msg %>}, {n: <% ctx().count %>}]
tasks:
  task1:
    action: core.echo message=<% ctx().greeting %>
    next:
      - when: <% succeeded() %>
        publish: msg=<% result().stdout %> count=<% ctx().count + 1 %>
        do: task2
  task2:
    action: core.noop
""",
        inputs={"name": "bob", "undeclared": 1},
    )
    assert (run.status, run.actions[0].action, run.actions[0].input) == ("running", "core.echo", {"message": "hi bob"})
    run.done("task1", result={"stdout": "out"})
    assert run.names == [("task2", 0)] and run.actions[0].input is None
    run.done("task2")
    assert (run.status, run.output, run.errors) == ("succeeded", {"msg": "out", "n": 2}, [])
    assert run.conductor.result == {"output": {"msg": "out", "n": 2}}
    assert "undeclared" not in run.conductor.state["contexts"][0]


def test_failure_routed_only_to_continue_still_fails_the_workflow_and_publishes():
    run = Run(
        """
version: 1.0
output: [{e: <% ctx().err %>}]
tasks:
  task1:
    action: core.local
    next: [{when: <% failed() %>, publish: [{err: <% result().stderr %>}], do: continue}]
"""
    ).done("task1", "failed", {"stderr": "boom"})
    assert (run.status, run.output) == ("failed", {"e": "boom"})
    assert run.errors == [{"type": "error", "message": FAILED_ENTRY, "task_id": "task1", "result": {"stderr": "boom"}}]
    assert run.conductor.result == {"output": {"e": "boom"}, "errors": run.errors}


def test_noop_remediates_a_failure():
    run = Run("tasks:\n  task1:\n    action: core.local\n    next: [{when: <% failed() %>, do: noop}]\n")
    run.done("task1", "failed", {"stderr": "boom"})
    assert run.status == "succeeded"
    assert run.errors == [{"type": "error", "message": FAILED_ENTRY, "task_id": "task1", "result": {"stderr": "boom"}}]
    assert run.conductor.result == {"output": None}


def test_fail_command_still_runs_the_other_tasks_of_its_transition():
    run = Run(
        """
tasks:
  task1:
    action: core.local
    next: [{when: <% failed() %>, do: "log, fail"}]
  log:
    action: core.echo
"""
    ).done("task1", "failed", {"x": 1})
    assert (run.status, run.names) == ("failed", [("log", 0)])
    assert run.errors == [
        {"type": "error", "message": FAILED_ENTRY, "task_id": "task1", "result": {"x": 1}},
        {"type": "error", "message": FAILED_ENTRY, "task_id": "fail"},
    ]
    run.done("log")
    assert (run.status, run.names) == ("failed", [])


def test_unhandled_failure_fails_at_once_siblings_finish_nothing_new_starts():
    run = Run(
        """
output: [{a: done}]
tasks:
  a:
    action: core.local
  b:
    action: core.local
    next: [{do: c}]
  c:
    action: core.local
"""
    )
    assert run.names == [("a", 0), ("b", 0)]
    run.done("a", "failed", {"e": 1})
    assert (run.status, run.output) == ("failed", {"a": "done"})
    run.done("b")
    assert (run.status, run.names) == ("failed", [])


def test_timeout_fails_the_task_without_an_error_entry():
    run = Run("tasks:\n  a:\n    action: core.local\n").done("a", "timeout", {"x": 1})
    assert (run.status, run.errors) == ("failed", [])


JOIN = """
output: [{x: <% ctx().x %>}, {y: <% ctx().y %>}]
tasks:
  init:
    action: core.noop
    next: [{do: "a, b"}]
  a:
    action: core.noop
    next: [{when: <% succeeded() %>, publish: [{x: a}, {y: a}], do: j}]
  b:
    action: core.noop
    next: [{when: <% succeeded() %>, publish: [{x: b}], do: j}]
  j:
    join: all
    action: core.noop
"""


def test_join_waits_for_all_and_merges_contexts_in_firing_order():
    run = Run(JOIN).done("init")
    assert run.names == [("a", 0), ("b", 0)]
    run.done("b")
    assert run.names == []
    run.done("a")
    assert run.names == [("j", 0)]
    run.done("j")
    assert (run.status, run.output) == ("succeeded", {"x": "a", "y": "a"})
    assert run.conductor.state["sequence"][-1]["ctxs"]["in"] == [0, 1, 2]


def test_unreachable_join_fails_the_workflow():
    run = Run(JOIN).done("init").done("b").done("a", "failed")
    assert run.status == "failed"
    assert run.errors[1] == {
        "type": "error",
        "message": 'UnreachableJoinError: The join task|route "j|0" is partially satisfied but unreachable.',
        "task_id": "j",
        "route": 0,
    }


def test_join_on_a_count_of_branches():
    run = Run(
        """
tasks:
  init:
    action: core.noop
    next: [{do: "a, b, c"}]
  a:
    next: [{do: j}]
  b:
    action: core.noop
    next: [{do: j}]
  c:
    action: core.noop
    next: [{do: j}]
  j:
    join: 2
    action: core.noop
"""
    ).done("init")
    assert run.names == [("b", 0), ("c", 0)]
    run.done("b")
    assert run.names == [("j", 0)]


def test_split_runs_the_shared_task_once_per_path_on_its_own_route():
    run = Run(
        """
tasks:
  task1:
    action: core.noop
    next: [{do: "task2, task3"}]
  task2:
    action: core.noop
    next: [{do: task4}]
  task3:
    action: core.noop
    next: [{do: task4}]
  task4:
    action: core.noop
    next: [{do: task5}]
  task5:
    action: core.noop
"""
    )
    run.done("task1").done("task2")
    assert run.names == [("task4", 1)]
    run.done("task3")
    assert run.names == [("task4", 2)]
    run.done("task4", route=1)
    assert run.names == [("task5", 1)]
    run.done("task4", route=2).done("task5", route=1).done("task5", route=2)
    assert run.status == "succeeded"
    assert run.conductor.state["routes"] == [[], ["task2__t0"], ["task3__t0"]]
    assert run.conductor.task_status("task5", 2) == "succeeded"
    assert run.conductor.task_status("task1", 2) == "succeeded"


def test_cycle_reruns_a_task_until_its_condition_changes():
    run = Run(
        """
vars: [{n: 0}]
output: [{n: <% ctx().n %>}]
tasks:
  init:
    action: core.noop
    next: [{do: loop}]
  loop:
    action: core.noop
    next:
      - when: <% ctx().n < 2 %>
        publish: [{n: <% ctx().n + 1 %>}]
        do: loop
      - when: <% ctx().n >= 2 %>
        do: done
  done:
    action: core.noop
"""
    ).done("init")
    for _ in range(3):
        assert run.names == [("loop", 0)]
        run.done("loop")
    assert run.names == [("done", 0)]
    run.done("done")
    assert (run.status, run.output) == ("succeeded", {"n": 2})


def test_action_less_task_completes_by_itself():
    run = Run(
        "output: [{v: <% ctx().v %>}]\ntasks:\n  a:\n    next: [{publish: v=1, do: b}]\n  b:\n    action: core.noop\n"
    )
    assert run.names == [("b", 0)]
    run.done("b")
    assert (run.status, run.output) == ("succeeded", {"v": 1})


ITEMS = """
input: [{xs: [1, 2, 3, 4]}]
output: [{r: <% ctx().r %>}]
tasks:
  t:
    with: {items: "x in <% ctx().xs %>", concurrency: 2}
    action: core.echo message=<% item(x) %>
    delay: 3
    next: [{publish: [{r: <% result() %>}], do: continue}]
"""


def test_with_items_concurrency_delay_and_result_list():
    run = Run(ITEMS)
    assert [(a.item_id, a.input, a.delay, a.items_count, a.concurrency) for a in run.actions] == [
        (0, {"message": 1}, 3, 4, 2),
        (1, {"message": 2}, 3, 4, 2),
    ]
    run.done("t", result={"o": 1}, item=0)
    assert [(a.item_id, a.delay) for a in run.actions] == [(2, None)]
    run.done("t", result={"o": 2}, item=1).done("t", result={"o": 3}, item=2)
    assert run.names == []
    run.done("t", result={"o": 4}, item=3)
    assert (run.status, run.output) == ("succeeded", {"r": [{"o": 1}, {"o": 2}, {"o": 3}, {"o": 4}]})


ITEMS_FAILING = (
    'input: [{xs: [1, 2, 3, 4]}]\ntasks:\n  t:\n    with: {items: "<% ctx().xs %>", concurrency: %s}\n'
    "    action: core.echo message=<% item() %>\n"
)


def test_with_items_failure_starts_no_item_once_none_is_active_and_fails_the_task():
    run = Run(ITEMS_FAILING.replace("%s", "1")).done("t", "failed", {"o": 1}, item=0)
    assert (run.status, run.names) == ("failed", [])
    assert run.conductor.state["staged"][0]["items"] == "F..." and run.conductor.state["staged"][0]["completed"]


def test_with_items_failure_while_other_items_run_still_starts_items():
    run = Run(ITEMS_FAILING.replace("%s", "2")).done("t", "failed", {"o": 1}, item=0)
    assert (run.status, run.names) == ("running", [("t", 2)])
    run.done("t", item=1)
    assert run.names == [("t", 3)]
    run.done("t", item=2).done("t", item=3)
    assert run.status == "failed" and run.conductor.task_status("t") == "failed"


def test_with_items_over_an_empty_list_succeeds_with_an_empty_result():
    run = Run(
        "output: [{r: <% ctx().r %>}]\ntasks:\n  t:\n    with: <% [] %>\n    action: core.echo message=<% item() %>\n"
        "    next: [{publish: r=<% result() %>, do: u}]\n  u:\n    action: core.noop\n"
    )
    assert run.names == [("u", 0)]
    run.done("u")
    assert (run.status, run.output) == ("succeeded", {"r": []})


def test_with_items_zips_several_lists_into_named_keys():
    run = Run(
        'input: [{a: [1, 2]}, {b: [x, y]}]\ntasks:\n  t:\n    with: {items: "i, j in <% zip(ctx().a, ctx().b) %>"}\n'
        '    action: core.echo message="<% str(item(i)) + item(j) %>"\n'
    )
    assert [a.input for a in run.actions] == [{"message": "1x"}, {"message": "2y"}]


def test_items_that_are_not_a_list_fail_the_workflow():
    run = Run("tasks:\n  t:\n    with: <% 5 %>\n    action: core.echo\n")
    assert run.status == "failed"
    assert run.errors == [
        {
            "type": "error",
            "message": 'TypeError: The value of "<% 5 %>" is not type of list.',
            "task_id": "t",
            "route": 0,
        }
    ]


def test_retry_count_and_delay_then_transitions_on_the_last_result():
    run = Run(
        "tasks:\n  t:\n    action: core.local\n    retry: {count: 2, delay: 5}\n"
        "    next: [{when: <% succeeded() %>, do: u}]\n  u:\n    action: core.noop\n"
    )
    run.done("t", "failed", {"e": 1})
    assert [(a.task_id, a.delay) for a in run.actions] == [("t", 5)]
    run.done("t", "failed", {"e": 2}).done("t")
    assert run.names == [("u", 0)]
    run.done("u")
    assert run.status == "succeeded"
    assert [e["result"] for e in run.errors] == [{"e": 1}, {"e": 2}]


def test_retry_when_and_exhaustion():
    run = Run("tasks:\n  t:\n    action: core.local\n    retry: {when: <% failed() %>, count: 1}\n")
    run.done("t", "failed", {"e": 1})
    assert run.names == [("t", 0)]
    run.done("t", "failed", {"e": 2})
    assert (run.status, len(run.errors)) == ("failed", 2)


def test_do_retry_is_three_retries():
    run = Run("tasks:\n  t:\n    action: core.local\n    next: [{when: <% failed() %>, do: retry}]\n")
    for attempt in range(3):
        run.done("t", "failed", {"e": attempt})
        assert run.names == [("t", 0)]
    run.done("t", "failed", {"e": 3})
    assert run.status == "failed"


def test_input_error_fails_at_start_without_output():
    run = Run("input: [{a: <% ctx().nope %>}]\noutput: [{a: <% ctx().a %>}]\ntasks:\n  t:\n    action: core.noop\n")
    assert (run.status, run.output, run.actions) == ("failed", None, [])
    assert run.errors == [
        {"type": "error", "message": "YaqlEvaluationException: Unable to resolve key 'nope' in expression "
         "'<% ctx().nope %>' from context."}
    ]  # fmt: skip


def test_publish_error_fails_with_the_transition_id_other_transitions_still_evaluated():
    run = Run(
        "output: [{a: 1}]\ntasks:\n  t:\n    action: core.noop\n"
        "    next: [{publish: [{a: <% result().x.y %>}], do: u}, {do: v}]\n"
        "  u:\n    action: core.noop\n  v:\n    action: core.noop\n"
    ).done("t", result={"x": None})
    assert (run.status, run.output, run.names) == ("failed", {"a": 1}, [])
    assert run.errors[0]["task_transition_id"] == "u__t0" and run.errors[0]["route"] == 0
    assert run.errors[0]["message"].startswith("YaqlEvaluationException: Unable to evaluate expression")


def test_criteria_error_fails_the_workflow():
    run = Run(
        "tasks:\n  a:\n    action: core.noop\n    next: [{when: <% result().x.y %>, do: b}]\n"
        "  b:\n    action: core.noop\n"
    )
    run.done("a", result={"x": None})
    assert run.status == "failed"
    assert {k: run.errors[0][k] for k in ("task_id", "route", "task_transition_id")} == {
        "task_id": "a", "route": 0, "task_transition_id": "b__t0"}  # fmt: skip


def test_output_error_fails_a_succeeded_workflow_and_keeps_what_rendered():
    run = Run("output: [{a: 1}, {b: <% ctx().missing %>}]\ntasks:\n  t:\n    action: core.noop\n").done("t")
    assert (run.status, run.output) == ("failed", {"a": 1})
    assert "missing" in run.errors[0]["message"] and "task_id" not in run.errors[0]


def test_pause_lets_running_actions_finish_then_resume_goes_on():
    run = Run("tasks:\n  a:\n    action: core.noop\n    next: [{do: b}]\n  b:\n    action: core.noop\n")
    run.call("pause")
    assert run.status == "pausing"
    run.done("a")
    assert (run.status, run.names) == ("paused", [])
    assert run.conductor.result == {"output": None}
    run.call("resume")
    assert (run.status, run.names) == ("running", [("b", 0)])
    run.done("b")
    assert run.status == "succeeded"


def test_cancel_lets_running_actions_finish_and_renders_output():
    run = Run(
        "output: [{a: 1}]\ntasks:\n  a:\n    action: core.noop\n    next: [{do: b}]\n  b:\n    action: core.noop\n"
    )
    run.call("cancel")
    assert run.status == "canceling"
    run.done("a")
    assert (run.status, run.names, run.output) == ("canceled", [], {"a": 1})
    assert run.conductor.result == {"output": {"a": 1}}
    with pytest.raises(ConductorError):
        run.call("pause")


def test_pending_task_pauses_the_workflow_until_resumed():
    run = Run("tasks:\n  a:\n    action: core.ask\n    next: [{do: b}]\n  b:\n    action: core.noop\n")
    run.done("a", "pending")
    assert run.status == "paused"
    run.call("resume")
    assert run.status == "resuming"
    run.done("a", result={"r": 1})
    assert (run.status, run.names) == ("running", [("b", 0)])


def test_pause_and_cancel_of_a_with_items_task():
    items = (
        'tasks:\n  t:\n    with: {items: "<% [1, 2, 3, 4] %>", concurrency: 2}\n'
        "    action: core.echo message=<% item() %>\n"
    )
    run = Run(items).call("pause").done("t", item=0)
    assert (run.status, run.conductor.task_status("t")) == ("pausing", "pausing")
    run.done("t", item=1)
    assert (run.status, run.conductor.task_status("t")) == ("paused", "paused")
    run.call("resume")
    assert [a.item_id for a in run.actions] == [2, 3]
    run.done("t", item=2).done("t", item=3)
    assert run.status == "succeeded"
    run = Run(items).call("cancel").done("t", item=0).done("t", item=1)
    assert (run.status, run.names) == ("canceled", [])


def test_rerun_from_a_failed_task():
    run = Run(
        "tasks:\n  a:\n    action: core.noop\n    next: [{when: <% succeeded() %>, do: b}]\n"
        "  b:\n    action: core.local\n    next: [{when: <% succeeded() %>, do: c}]\n  c:\n    action: core.noop\n"
    )
    run.done("a").done("b", "failed")
    assert run.status == "failed"
    run.call("rerun", ["b"], ())
    assert (run.status, run.names, run.errors) == ("running", [("b", 0)], [])
    run.done("b").done("c")
    assert run.status == "succeeded"
    with pytest.raises(ConductorError, match="not found: zz"):
        run.call("rerun", ["zz"], ())


def test_rerun_with_items_without_reset_runs_only_failed_items_with_reset_all():
    items = "tasks:\n  t:\n    with: <% [1, 2, 3] %>\n    action: core.echo message=<% item() %>\n"
    run = Run(items).done("t", item=0).done("t", "failed", item=1).done("t", item=2)
    assert run.status == "failed"
    run.call("rerun", ["t"], ())
    assert [a.item_id for a in run.actions] == [1]
    run.done("t", result={"o": 22}, item=1)
    assert run.status == "succeeded"
    run = Run(items).done("t", item=0).done("t", "failed", item=1).done("t", item=2).call("rerun", ["t"], ("t",))
    assert [a.item_id for a in run.actions] == [0, 1, 2]


def test_rerun_of_a_running_workflow_is_refused():
    run = Run("tasks:\n  a:\n    action: core.noop\n")
    with pytest.raises(ConductorError, match="not in a completed state"):
        run.call("rerun", ["a"], ())


def test_engine_failure_to_request_an_action_fails_the_workflow():
    run = Run("tasks:\n  a:\n    action: nope.nope\n").call(
        "fail", LookupError('Unable to find action "nope.nope".'), "a", 0
    )
    assert run.status == "failed"
    assert run.errors == [
        {"type": "error", "message": 'LookupError: Unable to find action "nope.nope".', "task_id": "a", "route": 0}
    ]


def test_task_status_task_and_st2kv_read_through_the_host():
    records = {("a", 0): {"task_id": "a", "status": "failed", "result": {"rc": 1}}}
    run = Run(
        """
output: [{s: <% task_status(a) %>}, {rc: <% task(a).result.rc %>}, {k: <% st2kv('system.k') %>}]
tasks:
  a:
    action: core.local
    next: [{when: <% failed() %>, do: noop}]
""",
        context={"st2": {"user": "stanley"}},
        task=lambda name, route: records[(name, route)],
        st2kv=lambda key, decrypt: {"st2kv.system:k": "v"}[key],
    ).done("a", "failed")
    assert (run.status, run.output) == ("succeeded", {"s": "failed", "rc": 1, "k": "v"})


def test_contexts_are_shared_by_index_not_copied_per_task():
    tasks = "\n".join(f"  t{i}:\n    action: core.noop\n    next: [{{do: t{i + 1}}}]" for i in range(20))
    run = Run(f"input: [big]\ntasks:\n{tasks}\n  t20:\n    action: core.noop\n", inputs={"big": list(range(1000))})
    for i in range(21):
        run.done(f"t{i}")
    state = run.conductor.state
    assert run.status == "succeeded" and len(state["contexts"]) == 1
    assert all(entry["ctxs"]["in"] == [0] for entry in state["sequence"])


def test_ten_thousand_items_keep_the_state_small_and_run_fast():
    started = time.monotonic()
    spec = parse(
        'input: [xs]\ntasks:\n  t:\n    with: {items: "<% ctx().xs %>", concurrency: 100}\n    action: core.noop\n'
    )
    results = [None] * 10000
    conductor = Conductor.start(spec, {"xs": list(range(10000))}, {}, Host(item_results=lambda t, r: results))
    pending = [a.item_id for a in conductor.run()]
    sizes = []
    while pending:
        item = pending.pop(0)
        results[item] = {"ok": item}
        pending += [a.item_id for a in conductor.update("t", 0, "succeeded", results[item], item)]
        if item % 2500 == 0:
            sizes.append(len(json.dumps(conductor.state)))
    assert conductor.status == "succeeded"
    assert time.monotonic() - started < 10
    assert len(conductor.state["contexts"]) == 1 and len(conductor.state["sequence"]) == 1
    assert max(sizes) - min(sizes) < 1000  # the item statuses are one letter each, rewritten in place
    assert max(sizes) < len(json.dumps(conductor.state["contexts"])) + 10000 + 2000
    assert ITEM_CODES["succeeded"] == "S"

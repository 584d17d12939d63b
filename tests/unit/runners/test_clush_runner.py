"""The clush, clush-copy and clush-script runners, run directly with the exec worker (local processes
named after nodes, no ssh): per-node results, thresholds, timeouts, cancel, groups, folding."""

from __future__ import annotations

import json
import os
import time

from clush_runner.clush_runners import ClushCopyRunner, ClushRunner, ClushScriptRunner
from runner_helpers import make_ctx, process_alive, run_in_thread, runner_params


def params_for(runner_cls, **given) -> dict:
    """The exec worker unless a test says otherwise: local processes named after nodes."""
    return runner_params(runner_cls, **{"worker": "exec", **given})


def run_clush(cmd: str, nodes: str = "node[1-8]", runner_cls=ClushRunner, env=None, **given):
    ctx = make_ctx(runner_parameters=params_for(runner_cls, nodes=nodes, cmd=cmd, **given))
    if env:
        ctx.env.update(env)
    return runner_cls().run(ctx), ctx.emit


def test_each_node_reports_its_own_output_and_lines_stream_per_node():
    outcome, output = run_clush("echo %h", nodes="node[1-64]")
    assert outcome.status == "succeeded"
    nodes = outcome.result["nodes"]
    assert len(nodes) == 64
    assert nodes["node7"] == {"return_code": 0, "stdout": "node7", "stderr": ""}
    assert outcome.result["ok_nodes"] == "node[1-64]"
    assert outcome.result["counts"] == {"total": 64, "ok": 64, "failed": 0, "timeout": 0}
    assert sorted(output.text().splitlines()) == sorted(f"node{i}: node{i}" for i in range(1, 65))


def test_failures_are_reported_per_node_and_fail_the_execution():
    outcome, output = run_clush("case %h in node3|node5) echo broken on %h >&2; exit 4;; esac; echo fine")
    assert outcome.status == "failed"
    assert outcome.result["failed_nodes"] == "node[3,5]"
    assert outcome.result["nodes"]["node3"] == {"return_code": 4, "stdout": "", "stderr": "broken on node3"}
    assert outcome.result["nodes"]["node[1-2,4,6-8]"] == {"return_code": 0, "stdout": "fine", "stderr": ""}
    assert "node5: broken on node5\n" in output.text("stderr")


def test_max_failed_nodes_lets_a_few_nodes_fail():
    cmd = "case %h in node3|node5) exit 1;; esac"
    assert run_clush(cmd, max_failed_nodes=2)[0].status == "succeeded"
    assert run_clush(cmd, max_failed_nodes=1)[0].status == "failed"


def test_command_timeout_kills_slow_nodes_only():
    started = time.monotonic()
    outcome, _ = run_clush("case %h in node2|node6) sleep 30;; esac; echo done", command_timeout=1)
    assert time.monotonic() - started < 10
    assert outcome.status == "failed"
    assert outcome.result["timeout_nodes"] == "node[2,6]"
    assert outcome.result["nodes"]["node[2,6]"]["timeout"] is True
    assert outcome.result["ok_nodes"] == "node[1,3-5,7-8]"


def test_overall_timeout_ends_the_run_as_timeout_and_kills_every_worker(tmp_path):
    outcome, _ = run_clush(f"echo $$ > {tmp_path}/%h.pid; sleep 60", nodes="node[1-4]", timeout=2)
    assert outcome.status == "timeout"
    assert outcome.result["timeout_nodes"] == "node[1-4]"
    pids = [int((tmp_path / f"node{i}.pid").read_text()) for i in range(1, 5)]
    time.sleep(0.5)
    assert not any(process_alive(pid) for pid in pids)


def test_cancel_stops_all_workers_and_reports_what_ran(tmp_path):
    ctx = make_ctx(runner_parameters=params_for(
        ClushRunner, nodes="node[1-6]", cmd="case %h in node1) echo quick;; *) echo $$; sleep 60;; esac"))
    thread, box = run_in_thread(ClushRunner(), ctx)
    pids = [int(ctx.emit.wait_for(f"node{i}: ").split(": ")[1]) for i in range(2, 7)]
    ctx.cancel.set()
    thread.join(15)
    outcome = box["result"]
    assert outcome.status == "canceled"
    assert outcome.result["ok_nodes"] == "node1"
    assert outcome.result["canceled_nodes"] == "node[2-6]"
    assert not any(process_alive(pid) for pid in pids)


def test_gather_groups_identical_outputs_by_node_set():
    outcome, _ = run_clush("case %h in node[1-3]) echo old;; *) echo new;; esac", gather=True)
    assert outcome.result["gathered"] == {"node[1-3]": "old", "node[4-8]": "new"}


def test_a_thousand_nodes_with_one_output_stay_one_small_record():
    outcome, _ = run_clush("echo same", nodes="node[1-1024]", fanout=64)
    assert outcome.status == "succeeded"
    assert outcome.result["nodes"] == {"node[1-1024]": {"return_code": 0, "stdout": "same", "stderr": ""}}
    assert len(json.dumps(outcome.result)) < 400


def test_a_literal_percent_must_be_doubled_with_the_exec_worker():
    outcome, _ = run_clush("date +%s")
    assert outcome.status == "failed"
    assert "%%" in outcome.result["error"] and "exec worker" in outcome.result["error"]
    outcome, _ = run_clush("echo 100%%")
    assert outcome.result["nodes"]["node[1-8]"]["stdout"] == "100%"


def test_bad_node_sets_and_parameters_fail_with_one_line():
    assert "Bad node set" in run_clush("true", nodes="node[1-")[0].result["error"]
    assert "empty" in run_clush("true", nodes="")[0].result["error"]
    assert "fanout must be at least 1" in run_clush("true", fanout=0)[0].result["error"]
    assert "cmd parameter is empty" in run_clush("")[0].result["error"]


def test_groups_resolve_through_clustershell_configuration(tmp_path):
    (tmp_path / "groups.d").mkdir()
    (tmp_path / "groups.conf").write_text(f"[Main]\ndefault: site\nautodir: {tmp_path}/groups.d\n")
    (tmp_path / "groups.d" / "site.yaml").write_text("site:\n  compute: 'cn[1-16]'\n  gpu: 'cn[9-16]'\n")
    outcome, _ = run_clush("echo %h", nodes="@compute!@gpu", env={"CLUSTERSHELL_CFGDIR": str(tmp_path)})
    assert outcome.status == "succeeded", outcome.result
    assert outcome.result["ok_nodes"] == "cn[1-8]"
    unknown, _ = run_clush("true", nodes="@nosuchgroup", env={"CLUSTERSHELL_CFGDIR": str(tmp_path)})
    assert unknown.status == "failed" and "@nosuchgroup" in unknown.result["error"]


def test_commands_do_not_wait_on_stdin():
    outcome, _ = run_clush("cat; echo after", timeout=10)
    assert outcome.result["nodes"]["node[1-8]"]["stdout"] == "after"


def test_copy_puts_the_file_on_every_node(tmp_path):
    source = tmp_path / "motd"
    source.write_text("welcome\n")
    ctx = make_ctx(runner_parameters=params_for(ClushCopyRunner, nodes="node[1-3]", source=str(source),
                                                dest=f"{tmp_path}/motd.%h"))
    outcome = ClushCopyRunner().run(ctx)
    assert outcome.status == "succeeded", outcome.result
    assert [(tmp_path / f"motd.node{i}").read_text() for i in (1, 2, 3)] == ["welcome\n"] * 3
    missing = make_ctx(runner_parameters=params_for(ClushCopyRunner, nodes="n1", source="/nonexistent",
                                                    dest="/tmp/x"))
    assert "does not exist" in ClushCopyRunner().run(missing).result["error"]


def test_script_is_copied_run_with_arguments_and_removed(tmp_path):
    script = tmp_path / "report.sh"
    script.write_text('#!/bin/sh\necho "$(basename "$0" | cut -d- -f3) args: $*"\n')
    action = {"name": "report", "pack": "testpack", "parameters": {"level": {"type": "integer"}}}
    ctx = make_ctx(action, runner_parameters=params_for(ClushScriptRunner, nodes="node[1-4]", script=str(script),
                                                        remote_dir=str(tmp_path / "remote"), args="extra"),
                   action_parameters={"level": 3})
    (tmp_path / "remote").mkdir()
    outcome = ClushScriptRunner().run(ctx)
    assert outcome.status == "succeeded", outcome.result
    assert outcome.result["nodes"]["node2"]["stdout"] == "node2 args: --level=3 extra"
    assert os.listdir(tmp_path / "remote") == []


def test_script_that_fails_to_copy_is_reported_per_node(tmp_path):
    script = tmp_path / "x.sh"
    script.write_text("#!/bin/sh\ntrue\n")
    ctx = make_ctx(runner_parameters=params_for(ClushScriptRunner, nodes="node[1-2]", script=str(script),
                                                remote_dir="/nonexistent/dir"))
    outcome = ClushScriptRunner().run(ctx)
    assert outcome.status == "failed"
    assert outcome.result["failed_nodes"] == "node[1-2]"
    assert "/nonexistent/dir" in outcome.result["nodes"]["node1"]["stderr"]


def test_unreachable_ssh_nodes_fail_per_node():
    """ssh to a port nobody listens on: the node fails with ssh's own message, nothing hangs."""
    outcome, _ = run_clush("true", nodes="127.0.0.1", worker="ssh", ssh_options="-p 9", connect_timeout=3)
    assert outcome.status == "failed"
    record = outcome.result["nodes"]["127.0.0.1"]
    assert record["return_code"] == 255 and "Connection refused" in record["stderr"]

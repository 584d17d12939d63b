"""The clush pack registers against the installed runners and its actions run as users call them."""

from __future__ import annotations

import os

import pytest
from runner_helpers import CORE, make_ctx

from appliance import runners as runner_plugins
from appliance.content import Registrar
from appliance.parameters import ParameterError, render, validate_request
from appliance.store.sqlite import SQLiteStore

CLUSH_PACK = os.path.join(os.path.dirname(CORE), "clush")


@pytest.fixture(scope="module")
def registrar(tmp_path_factory):
    store = SQLiteStore(str(tmp_path_factory.mktemp("clushpack") / "st2.db"))
    registrar = Registrar(store, [os.path.dirname(CORE)])
    registrar.register(["clush"])
    yield registrar
    store.close()


def run_action(registrar: Registrar, ref: str, **given):
    action = registrar.actions.find_one({"ref": ref})
    runner_type = registrar.runner_types.find_one({"name": action["runner_type"]})
    runner_values, action_values = render(runner_type, action, given, {"user": "st2admin"})
    entry = os.path.join(CLUSH_PACK, "actions", action["entry_point"]) if action["entry_point"] else ""
    ctx = make_ctx(action, runner_parameters=runner_values, action_parameters=action_values, pack_dir=CLUSH_PACK,
                   entry_point=entry)
    return runner_plugins.load(action["runner_type"])().run(ctx)


def test_every_action_registers(registrar):
    refs = {doc["ref"] for doc in registrar.actions.find({"pack": "clush"})}
    assert refs == {"clush.cmd", "clush.script", "clush.copy", "clush.ping", "clush.nodeset_expand",
                    "clush.nodeset_fold", "clush.nodeset_count"}


def test_cmd_runs_on_each_node(registrar):
    outcome = run_action(registrar, "clush.cmd", nodes="n[1-3]", cmd="echo up on %h", worker="exec")
    assert outcome.status == "succeeded"
    assert outcome.result["nodes"]["n2"]["stdout"] == "up on n2"


def test_ping_reports_unreachable_nodes(registrar):
    outcome = run_action(registrar, "clush.ping", nodes="127.0.0.1", ssh_options="-p 9")
    assert outcome.status == "failed"
    assert outcome.result["failed_nodes"] == "127.0.0.1"


def test_ping_command_cannot_be_changed(registrar):
    action = registrar.actions.find_one({"ref": "clush.ping"})
    runner_type = registrar.runner_types.find_one({"name": "clush"})
    with pytest.raises(ParameterError, match="immutable"):
        validate_request(runner_type, action, {"nodes": "n1", "cmd": "reboot"})


@pytest.mark.parametrize("ref, expected", [
    ("clush.nodeset_expand", ["node1", "node2", "node3", "node7"]),
    ("clush.nodeset_fold", "node[1-3,7]"),
    ("clush.nodeset_count", 4),
])
def test_nodeset_actions(registrar, ref, expected):
    outcome = run_action(registrar, ref, nodes="node[1-3],node7")
    assert outcome.status == "succeeded", outcome.result
    assert outcome.result["result"] == expected


def test_nodeset_action_rejects_a_bad_node_set(registrar):
    outcome = run_action(registrar, "clush.nodeset_count", nodes="node[1-")
    assert outcome.status == "failed"
    assert "Bad node set" in str(outcome.result["result"])


def test_a_site_cfgdir_with_a_local_group_source_is_used_alone(registrar, tmp_path, monkeypatch):
    """The ClusterShell wheel's own groups.conf (in the virtualenv) has a `local` source too: merged with the
    site's, every @group failed with a name collision. A CLUSTERSHELL_CFGDIR groups.conf is used alone."""
    (tmp_path / "groups.d").mkdir()
    (tmp_path / "groups.conf").write_text("[Main]\ndefault: local\nautodir: $CFGDIR/groups.d\n")
    (tmp_path / "groups.d" / "local.yaml").write_text("local:\n  compute: 'cn[1-4]'\n  gpu: 'cn[3-4]'\n")
    monkeypatch.setenv("CLUSTERSHELL_CFGDIR", str(tmp_path))
    outcome = run_action(registrar, "clush.nodeset_fold", nodes="@compute!@gpu")
    assert outcome.status == "succeeded", outcome.result
    assert outcome.result["result"] == "cn[1-2]"
    outcome = run_action(registrar, "clush.cmd", nodes="@gpu", cmd="echo %h", worker="exec")
    assert outcome.status == "succeeded", outcome.result
    assert outcome.result["ok_nodes"] == "cn[3-4]"

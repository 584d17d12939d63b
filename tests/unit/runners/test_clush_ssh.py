"""The clush runners over real ssh: a loopback sshd (tests/support/sshd.py) reached as two node names."""

from __future__ import annotations

import shlex

import pytest
from clush_runner.clush_runners import ClushCopyRunner, ClushRunner, ClushScriptRunner
from runner_helpers import make_ctx, runner_params

from tests.support import sshd
from tests.support.sshd import SshServer

sshd_server = sshd.sshd_server
NODES = "127.0.0.1,localhost"


@pytest.fixture(scope="module")
def ssh_options(sshd_server: SshServer, tmp_path_factory) -> str:
    """The server's client options, with its host key known under both node names."""
    known = tmp_path_factory.mktemp("known") / "known_hosts"
    line = sshd_server.known_hosts.read_text().strip()
    alias = line.replace("[127.0.0.1]", "[localhost]", 1)
    known.write_text(f"{line}\n{alias}\n")
    return f"-oUserKnownHostsFile={shlex.quote(str(known))} {sshd_server.ssh_options()}"


def ssh_params(runner_cls, ssh_options: str, server: SshServer, **given) -> dict:
    return runner_params(runner_cls, **{"nodes": NODES, "worker": "ssh", "user": server.user,
                                     "ssh_options": ssh_options, **given})


def test_cmd_runs_on_each_node_over_ssh(sshd_server: SshServer, ssh_options: str):
    ctx = make_ctx(runner_parameters=ssh_params(ClushRunner, ssh_options, sshd_server,
                                                cmd="echo \"$SSH_CONNECTION\" | cut -d' ' -f3; echo warn >&2"))
    outcome = ClushRunner().run(ctx)
    assert outcome.status == "succeeded", outcome.result
    assert outcome.result["nodes"] == {"127.0.0.1,localhost": {"return_code": 0, "stdout": "127.0.0.1",
                                                               "stderr": "warn"}}
    assert sorted(line for line in ctx.emit.text().splitlines()) == ["127.0.0.1: 127.0.0.1", "localhost: 127.0.0.1"]


def test_remote_exit_codes_and_command_timeout_over_ssh(sshd_server: SshServer, ssh_options: str):
    ctx = make_ctx(runner_parameters=ssh_params(ClushRunner, ssh_options, sshd_server, command_timeout=2,
                                                nodes="127.0.0.1", cmd="sleep 30"))
    outcome = ClushRunner().run(ctx)
    assert outcome.result["timeout_nodes"] == "127.0.0.1"
    ctx = make_ctx(runner_parameters=ssh_params(ClushRunner, ssh_options, sshd_server, cmd="exit 7"))
    assert ClushRunner().run(ctx).result["nodes"]["127.0.0.1,localhost"]["return_code"] == 7


def test_copy_and_script_over_ssh(sshd_server: SshServer, ssh_options: str, tmp_path):
    source = tmp_path / "payload.txt"
    source.write_text("payload\n")
    dest = tmp_path / "copied.txt"
    ctx = make_ctx(runner_parameters=ssh_params(ClushCopyRunner, ssh_options, sshd_server, nodes="127.0.0.1",
                                                source=str(source), dest=str(dest)))
    assert ClushCopyRunner().run(ctx).status == "succeeded"
    assert dest.read_text() == "payload\n"

    script = tmp_path / "probe.sh"
    script.write_text('#!/bin/sh\necho "probe $1"\n')
    remote = tmp_path / "remote"
    remote.mkdir()
    ctx = make_ctx(runner_parameters=ssh_params(ClushScriptRunner, ssh_options, sshd_server, nodes="127.0.0.1",
                                                script=str(script), args="ok", remote_dir=str(remote)))
    outcome = ClushScriptRunner().run(ctx)
    assert outcome.status == "succeeded", outcome.result
    assert outcome.result["nodes"]["127.0.0.1"]["stdout"] == "probe ok"
    assert list(remote.iterdir()) == []

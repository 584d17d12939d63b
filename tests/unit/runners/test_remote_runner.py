"""remote-shell-cmd and remote-shell-script against a real loopback sshd (tests/support/sshd.py), never a fake.

The server listens on 127.0.0.1 only; "localhost" reaches it too, so two host names give two hosts.
"""

from __future__ import annotations

import glob
import os
import shlex
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from remote_runner.remote_command_runner import RemoteShellCommandRunner
from remote_runner.remote_script_runner import RemoteShellScriptRunner
from runner_helpers import make_ctx, run_in_thread, runner_params

from appliance.runners import RunnerSettings, load
from tests.support import sshd
from tests.support.sshd import SSH_KEYGEN, SshServer

sshd_server = sshd.sshd_server


@pytest.fixture(scope="module")
def known_hosts(sshd_server: SshServer, tmp_path_factory) -> Path:
    """The server's host key, known under both of its names."""
    known = tmp_path_factory.mktemp("known") / "known_hosts"
    line = sshd_server.known_hosts.read_text().strip()
    known.write_text(f"{line}\n{line.replace('[127.0.0.1]', '[localhost]', 1)}\n")
    return known


@pytest.fixture(scope="module")
def site_options(known_hosts: Path) -> str:
    """What a site would put in ssh_options: strict host keys, no user config; no key, no port."""
    return " ".join(shlex.quote(option) for option in [
        "-F", "/dev/null", f"-oUserKnownHostsFile={known_hosts}", "-oGlobalKnownHostsFile=/dev/null",
        "-oStrictHostKeyChecking=yes"])


def params(sshd_server: SshServer, site_options: str, runner_cls=RemoteShellCommandRunner, **given) -> dict:
    """Runner parameters reaching the test sshd through the runner's own port and private_key."""
    return runner_params(runner_cls, **{"hosts": sshd_server.host, "port": sshd_server.port,
                                        "username": sshd_server.user, "private_key": str(sshd_server.private_key),
                                        "ssh_options": site_options, **given})


def run_cmd(sshd_server: SshServer, site_options: str, cmd: str, **given):
    ctx = make_ctx(runner_parameters=params(sshd_server, site_options, cmd=cmd, **given))
    return RemoteShellCommandRunner().run(ctx), ctx


def running(marker: str) -> list[int]:
    """Pids whose command line contains marker (the sshd is local, so remote processes are ours to see)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if marker.encode() in handle.read().replace(b"\0", b" "):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def test_runners_are_installed_with_stackstorm_parameters():
    assert load("remote-shell-cmd") is RemoteShellCommandRunner
    assert load("remote-shell-script") is RemoteShellScriptRunner
    cmd_params = RemoteShellCommandRunner.RUNNER_TYPE["runner_parameters"]
    assert cmd_params["hosts"]["required"] and cmd_params["dir"]["immutable"]
    assert cmd_params["timeout"]["default"] == 60 and cmd_params["cwd"]["default"] == "/tmp"
    assert all(cmd_params[name]["secret"] for name in ("password", "private_key", "passphrase", "sudo_password"))
    script_params = RemoteShellScriptRunner.RUNNER_TYPE["runner_parameters"]
    assert "cmd" not in script_params and "immutable" not in script_params["dir"]


def test_cmd_result_is_keyed_by_host(sshd_server: SshServer, site_options: str):
    outcome, ctx = run_cmd(sshd_server, site_options, "echo hello; echo warn >&2; echo '{\"a\": 1}' >&2")
    assert outcome.status == "succeeded", outcome.result
    assert outcome.result == {"127.0.0.1": {"failed": False, "succeeded": True, "return_code": 0,
                                            "stdout": "hello", "stderr": "warn\n{\"a\": 1}"}}
    assert "127.0.0.1: hello\n" in ctx.emit.text()
    outcome, _ = run_cmd(sshd_server, site_options, "echo '{\"b\": [1, 2]}'")
    assert outcome.result["127.0.0.1"]["stdout"] == {"b": [1, 2]}  # JSON output is decoded, as locally


def test_two_host_names_give_two_entries(sshd_server: SshServer, site_options: str):
    outcome, ctx = run_cmd(sshd_server, site_options, "echo on-$(hostname)", hosts=" 127.0.0.1 , localhost,")
    assert outcome.status == "succeeded", outcome.result
    assert list(outcome.result) == ["127.0.0.1", "localhost"]
    for entry in outcome.result.values():
        assert entry["stdout"] == f"on-{os.uname().nodename}"
    assert sorted(ctx.emit.text().splitlines()) == sorted(f"{host}: on-{os.uname().nodename}"
                                                          for host in ("127.0.0.1", "localhost"))


def test_host_with_port_suffix_keeps_its_key(sshd_server: SshServer, site_options: str):
    outcome, _ = run_cmd(sshd_server, site_options, "true", hosts=f"127.0.0.1:{sshd_server.port}", port=None)
    assert outcome.status == "succeeded", outcome.result
    assert list(outcome.result) == [f"127.0.0.1:{sshd_server.port}"]


def test_non_zero_exit_fails(sshd_server: SshServer, site_options: str):
    outcome, _ = run_cmd(sshd_server, site_options, "echo partial; exit 7")
    assert outcome.status == "failed"
    assert outcome.result["127.0.0.1"] == {"failed": True, "succeeded": False, "return_code": 7,
                                           "stdout": "partial", "stderr": ""}


def test_private_key_as_material_in_a_private_file_removed_after(sshd_server: SshServer, site_options: str):
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "st2-ssh-key-*")))
    cmd = f"ls -l {tempfile.gettempdir()}/st2-ssh-key-* | cut -c1-10"
    outcome, _ = run_cmd(sshd_server, site_options, cmd, private_key=sshd_server.private_key.read_text())
    assert outcome.status == "succeeded", outcome.result
    assert "-rw-------" in outcome.result["127.0.0.1"]["stdout"]
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "st2-ssh-key-*"))) == before


def _keygen(path: Path) -> Path:
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, capture_output=True)
    return path


def run_as_system_user(sshd_server: SshServer, site_options: str, settings: RunnerSettings, **given):
    """`whoami` with neither username nor private_key given: st2.conf's [system_user] decides."""
    given = {"cmd": "whoami", "username": None, "private_key": None, **given}
    runner_parameters = params(sshd_server, site_options, **given)
    return RemoteShellCommandRunner().run(make_ctx(runner_parameters=runner_parameters, settings=settings))


def test_system_user_and_its_ssh_key_file_are_the_defaults(sshd_server: SshServer, site_options: str,
                                                            monkeypatch, tmp_path):
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    key = str(sshd_server.private_key)
    outcome = run_as_system_user(sshd_server, site_options, RunnerSettings(system_user=sshd_server.user,
                                                                           ssh_key_file=key))
    assert outcome.status == "succeeded", outcome.result
    assert outcome.result["127.0.0.1"]["stdout"] == sshd_server.user
    # without the key file, ssh has no key the server accepts
    outcome = run_as_system_user(sshd_server, site_options, RunnerSettings(system_user=sshd_server.user,
                                                                           ssh_key_file=str(tmp_path / "absent")))
    assert outcome.result["127.0.0.1"]["return_code"] == 255, outcome.result
    # the system user is the login name: one the server does not know is refused, `username` wins over it
    stranger = RunnerSettings(system_user="st2-no-such-user", ssh_key_file=key)
    outcome = run_as_system_user(sshd_server, site_options, stranger)
    assert outcome.result["127.0.0.1"]["return_code"] == 255, outcome.result
    outcome = run_as_system_user(sshd_server, site_options, stranger, username=sshd_server.user)
    assert outcome.status == "succeeded", outcome.result


def test_an_ssh_agent_comes_before_the_ssh_key_file(sshd_server: SshServer, site_options: str, monkeypatch,
                                                    tmp_path):
    settings = RunnerSettings(system_user=sshd_server.user, ssh_key_file=str(_keygen(tmp_path / "unknown_key")))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    assert run_as_system_user(sshd_server, site_options, settings).status == "failed"
    socket_path = str(tmp_path / "agent.sock")
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", socket_path], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(socket_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        monkeypatch.setenv("SSH_AUTH_SOCK", socket_path)
        subprocess.run(["ssh-add", "-q", str(sshd_server.private_key)], check=True, capture_output=True)
        outcome = run_as_system_user(sshd_server, site_options, settings)
        assert outcome.status == "succeeded", outcome.result
    finally:
        agent.terminate()
        agent.wait()


def test_another_key_is_refused_with_rc_255(sshd_server: SshServer, site_options: str, tmp_path):
    other = _keygen(tmp_path / "other_key")
    outcome, _ = run_cmd(sshd_server, site_options, "true", private_key=str(other))
    assert outcome.status == "failed"
    assert outcome.result["127.0.0.1"]["return_code"] == 255
    assert "Permission denied" in outcome.result["127.0.0.1"]["stderr"]
    outcome, _ = run_cmd(sshd_server, site_options, "true", private_key="/nonexistent/key")
    assert outcome.status == "failed" and "private_key" in outcome.result["error"]


def test_env_and_cwd(sshd_server: SshServer, site_options: str, tmp_path):
    cmd = 'echo "$GREETING|$(pwd)|$ST2_ACTION_EXECUTION_ID|${ST2_ACTION_AUTH_TOKEN:-none}"'
    outcome, _ = run_cmd(sshd_server, site_options, cmd, cwd=str(tmp_path),
                         env={"GREETING": "it's $(not run) `here`"})
    assert outcome.status == "succeeded", outcome.result
    assert outcome.result["127.0.0.1"]["stdout"] == f"it's $(not run) `here`|{tmp_path}|5f0000000000000000000001|none"

    outcome, _ = run_cmd(sshd_server, site_options, "echo ran", cwd=str(tmp_path / "missing"))
    assert outcome.status == "failed"
    assert outcome.result["127.0.0.1"]["stdout"] == "" and "missing" in outcome.result["127.0.0.1"]["stderr"]

    outcome, _ = run_cmd(sshd_server, site_options, "true", env={"BAD NAME": "x"})
    assert outcome.status == "failed" and "BAD NAME" in outcome.result["error"]


def test_sudo_runs_as_root_with_env(sshd_server: SshServer, site_options: str, tmp_path):
    outcome, _ = run_cmd(sshd_server, site_options, 'echo "$(id -u) $FOO $(pwd)"; echo "$SUDO_COMMAND"',
                         sudo=True, env={"FOO": "bar"}, cwd=str(tmp_path))
    assert outcome.status == "succeeded", outcome.result
    first, second = outcome.result["127.0.0.1"]["stdout"].splitlines()
    assert first == f"0 bar {tmp_path}"
    assert second.startswith("/usr/bin/bash -c") or second.startswith("/bin/bash -c")


def test_sudo_password_goes_through_stdin_not_a_command_line(sshd_server: SshServer, site_options: str):
    # [T] keeps the pattern from matching grep's own command line.
    cmd = "id -u; cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' | grep -c 'Sup3rS3cr[T]' || true"
    outcome, _ = run_cmd(sshd_server, site_options, cmd, sudo=True, sudo_password="Sup3rS3crT")
    assert outcome.status == "succeeded", outcome.result
    assert outcome.result["127.0.0.1"]["stdout"].splitlines()[:2] == ["0", "0"]


def test_timeout_kills_the_remote_command(sshd_server: SshServer, site_options: str):
    marker = "sleep 41.37"
    started = time.monotonic()
    outcome, _ = run_cmd(sshd_server, site_options, f"echo started; {marker}; echo never", timeout=2)
    assert time.monotonic() - started < 10
    assert outcome.status == "timeout", outcome.result
    entry = outcome.result["127.0.0.1"]
    assert entry["return_code"] == -9 and entry["timeout"] is True and entry["failed"] is True
    assert entry["error"] == "Action failed to complete in 2 seconds"
    assert entry["stdout"] == "started"
    deadline = time.monotonic() + 15
    while running(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not running(marker), "the remote command outlived its timeout"


def test_cancel_ends_the_run_as_canceled(sshd_server: SshServer, site_options: str):
    ctx = make_ctx(runner_parameters=params(sshd_server, site_options, cmd="echo started; sleep 30", timeout=3))
    thread, box = run_in_thread(RemoteShellCommandRunner(), ctx)
    ctx.emit.wait_for("127.0.0.1: started")
    ctx.cancel.set()
    thread.join(10)
    assert box["result"].status == "canceled", box["result"]
    entry = box["result"].result["127.0.0.1"]
    # the engine hears of the cancel before its ssh workers are stopped, so the host reads as canceled
    assert entry["succeeded"] is False and entry["stdout"] == "started"
    assert "Canceled" in entry["error"] and entry["return_code"] == -15, entry


def test_parallel_false_runs_hosts_one_after_another(sshd_server: SshServer, site_options: str):
    cmd = "date +%s.%N; sleep 1; date +%s.%N"
    outcome, _ = run_cmd(sshd_server, site_options, cmd, hosts="127.0.0.1,localhost", parallel=False)
    assert outcome.status == "succeeded", outcome.result
    spans = sorted(tuple(float(t) for t in entry["stdout"].split()) for entry in outcome.result.values())
    assert spans[0][1] <= spans[1][0], spans  # the second host started after the first ended
    outcome, _ = run_cmd(sshd_server, site_options, cmd, hosts="127.0.0.1,localhost", parallel=True)
    spans = sorted(tuple(float(t) for t in entry["stdout"].split()) for entry in outcome.result.values())
    assert spans[1][0] < spans[0][1], spans  # overlapping


def test_unreachable_port_gives_rc_255_per_host(sshd_server: SshServer, site_options: str):
    with socket.socket() as sock:  # bound, never listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    outcome, _ = run_cmd(sshd_server, site_options, "true", hosts="127.0.0.1,localhost", port=closed_port)
    assert outcome.status == "failed"
    for host in ("127.0.0.1", "localhost"):
        entry = outcome.result[host]
        assert entry["return_code"] == 255 and entry["failed"] is True
        assert "Connection refused" in entry["stderr"] or "connect to host" in entry["stderr"]
    assert outcome.result["error"] == "Failed: 2 unreachable (127.0.0.1,localhost) of 2 hosts."


def test_password_or_passphrase_fail_at_once_with_one_clear_line(sshd_server: SshServer, site_options: str):
    for given in ({"password": "pw"}, {"passphrase": "pp"}):
        outcome, ctx = run_cmd(sshd_server, site_options, "true", **given)
        assert outcome.status == "failed"
        assert "private_key" in outcome.result["error"] and "\n" not in outcome.result["error"]
        assert ctx.emit.lines == []


def test_bad_hosts_fail_with_an_error(sshd_server: SshServer, site_options: str):
    for hosts in ("", " , ", "node[1-3]", "@group", "a:22,b:23"):
        outcome, _ = run_cmd(sshd_server, site_options, "true", hosts=hosts)
        assert outcome.status == "failed", hosts
        assert outcome.result["succeeded"] is False and outcome.result["error"], hosts


def test_script_is_copied_run_with_arguments_and_removed(sshd_server: SshServer, site_options: str, tmp_path):
    script = tmp_path / "show.sh"
    script.write_text('#!/bin/sh\necho "me:$(basename "$0")"\nfor a in "$@"; do echo "arg:$a"; done\n'
                      'echo "cwd:$(pwd)"\necho "env:$COLOR"\necho "uid:$(id -u)"\n')
    remote_dir = tmp_path / "remote"
    remote_dir.mkdir()
    action = {"name": "show", "pack": "testpack", "entry_point": "show.sh", "parameters": {
        "name": {"type": "string"}, "loud": {"type": "boolean"},
        "first": {"type": "string", "position": 0}, "second": {"type": "array", "position": 1}}}
    ctx = make_ctx(action=action, entry_point=str(script),
                   runner_parameters=params(sshd_server, site_options, RemoteShellScriptRunner,
                                            hosts="127.0.0.1", dir=str(remote_dir), cwd=str(tmp_path),
                                            env={"COLOR": "blue"}),
                   action_parameters={"name": "a b", "loud": True, "first": "one two", "second": ["x", "y"]})
    outcome = RemoteShellScriptRunner().run(ctx)
    assert outcome.status == "succeeded", outcome.result
    lines = outcome.result["127.0.0.1"]["stdout"].splitlines()
    assert lines[0].startswith("me:st2-5f0000000000000000000001-") and lines[0].endswith("-show.sh")
    assert lines[1:] == ["arg:--name=a b", "arg:--loud", "arg:one two", "arg:x,y", f"cwd:{tmp_path}",
                         "env:blue", f"uid:{os.getuid()}"]
    assert list(remote_dir.iterdir()) == []

    ctx.runner_parameters.update(sudo=True)
    ctx.action_parameters.update(first="failing")
    script.write_text('#!/bin/sh\necho "uid:$(id -u)"\nexit 3\n')
    outcome = RemoteShellScriptRunner().run(ctx)
    assert outcome.status == "failed"
    assert outcome.result["127.0.0.1"]["return_code"] == 3 and outcome.result["127.0.0.1"]["stdout"] == "uid:0"
    assert list(remote_dir.iterdir()) == []


def test_script_copy_to_a_missing_dir_fails_per_host(sshd_server: SshServer, site_options: str, tmp_path):
    script = tmp_path / "s.sh"
    script.write_text("#!/bin/sh\necho ran\n")
    ctx = make_ctx(action={"name": "s", "pack": "testpack", "entry_point": "s.sh", "parameters": {}},
                   entry_point=str(script),
                   runner_parameters=params(sshd_server, site_options, RemoteShellScriptRunner,
                                            dir=str(tmp_path / "nowhere")))
    outcome = RemoteShellScriptRunner().run(ctx)
    assert outcome.status == "failed"
    assert outcome.result["127.0.0.1"]["return_code"] != 0 and outcome.result["127.0.0.1"]["stdout"] == ""

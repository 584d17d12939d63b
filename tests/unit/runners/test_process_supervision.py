"""appliance.process: streaming, timeouts and cancels that take the whole process group down."""

from __future__ import annotations

import os
import stat
import sys
import threading
import time

import pytest
from runner_helpers import Output, process_alive

from appliance import process


def test_output_streams_line_by_line_while_the_process_runs():
    out = Output()
    done = process.run(["/bin/sh", "-c", "echo first; sleep 1.5; echo second; echo oops >&2"], on_line=out)
    ended = time.monotonic()
    assert done == (0, "first\nsecond\n", "oops\n", False, False)
    first_at = next(at for at, kind, line in out.lines if line == "first\n")
    assert ended - first_at > 1.0  # "first" arrived well before the process ended
    assert out.text("stdout") == "first\nsecond\n" and out.text("stderr") == "oops\n"


def test_exit_code_and_output_without_trailing_newline():
    done = process.run(["/bin/sh", "-c", "printf 'no newline'; exit 3"])
    assert done.return_code == 3 and done.stdout == "no newline"
    assert not done.timed_out and not done.canceled


def test_timeout_kills_the_whole_group_including_grandchildren():
    out = Output()
    start = time.monotonic()
    done = process.run(["/bin/sh", "-c", "sleep 300 & echo $!; sleep 300"], timeout=1, on_line=out, grace=1)
    assert done.timed_out and not done.canceled
    assert time.monotonic() - start < 5
    grandchild = int(out.wait_for(""))
    assert not process_alive(grandchild)


def test_a_group_member_ignoring_sigterm_gets_sigkill():
    script = "trap '' TERM; sleep 300 & echo $!; wait"
    out = Output()
    done = process.run(["/bin/sh", "-c", script], timeout=0.5, on_line=out, grace=0.5)
    assert done.timed_out
    assert not process_alive(int(out.wait_for("")))


def test_cancel_kills_the_group():
    cancel = threading.Event()
    out = Output()
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault(
        "done", process.run(["/bin/sh", "-c", "sleep 300 & echo $!; sleep 300"], cancel=cancel, on_line=out)))
    worker.start()
    grandchild = int(out.wait_for(""))
    cancel.set()
    worker.join(10)
    assert not worker.is_alive()
    assert box["done"].canceled and not box["done"].timed_out
    assert not process_alive(grandchild)


def test_stdin_data_reaches_the_child_and_stays_out_of_argv():
    done = process.run([sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"],
                       stdin_data="secret-value")
    assert done.stdout == "SECRET-VALUE\n"


def test_a_child_that_ignores_big_stdin_does_not_hang_the_supervisor():
    done = process.run(["/bin/true"], stdin_data="x" * (4 << 20), timeout=10)
    assert done.return_code == 0 and not done.timed_out


def test_the_child_runs_in_its_own_session():
    done = process.run([sys.executable, "-c", "import os; print(os.getsid(0) == os.getpid())"])
    assert done.stdout == "True\n"


def test_env_and_cwd(tmp_path):
    done = process.run(["/bin/sh", "-c", 'echo "$FOO $(pwd)"'], env={"FOO": "bar", "PATH": os.defpath},
                       cwd=str(tmp_path))
    assert done.stdout == f"bar {tmp_path}\n"


def test_missing_program_raises_oserror():
    with pytest.raises(OSError):
        process.run(["/nonexistent/program"])


def test_a_failing_output_callback_does_not_stop_reading():
    def sink(kind, line):
        raise RuntimeError("broken sink")

    done = process.run(["/bin/sh", "-c", "seq 1 2000"], on_line=sink, timeout=10)
    assert done.return_code == 0 and done.stdout.count("\n") == 2000


def test_undecodable_bytes_are_replaced_not_fatal():
    done = process.run(["/bin/sh", "-c", r"printf 'a\377b\n'"])
    assert done.stdout == "a\ufffdb\n"


def test_private_file_is_owner_only_and_removed():
    with process.private_file("echo hi\n") as path:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path) as handle:
            assert handle.read() == "echo hi\n"
    assert not os.path.exists(path)


def test_sudo_command_follows_stackstorm():
    assert process.sudo_command("echo hi") == (["sudo", "-E", "--", "bash", "-c", "echo hi"], None)
    argv, stdin = process.sudo_command("echo hi", "pw")
    assert argv == ["sudo", "-S", "-p", "", "-E", "--", "bash", "-c", "echo hi"] and stdin == "pw\n"


def test_action_environment_order():
    env = process.action_environment(
        {"ST2_ACTION_PACK_NAME": "core", "ST2_ACTION_API_URL": "http://x/v1", "OTHER": "from-runner"},
        {"ST2_ACTION_PACK_NAME": "hijack", "OTHER": "from-user", "NUM": 3},
        debug=True,
        base={"PATH": "/bin", "OTHER": "base"},
    )
    assert env == {"PATH": "/bin", "OTHER": "from-user", "NUM": "3", "ST2_ACTION_PACK_NAME": "core",
                   "ST2_ACTION_API_URL": "http://x/v1", "ST2_ACTION_DEBUG": "True"}

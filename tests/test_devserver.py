"""`make run` leaves nothing behind: reap() kills a child's whole tree."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portal import devserver

# A parent (in its own session, as spawn() makes it) whose child leaves the process group
# with setpgrp(), as an RQ work horse does, and prints its pid; both then wait forever.
TREE = """
import os, sys, time
pid = os.fork()
if pid == 0:
    os.setpgrp()
    print(os.getpid(), flush=True)
    time.sleep(600)
else:
    time.sleep(600)
"""


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_reap_kills_a_work_horse_that_left_the_process_group():
    parent = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", TREE], stdout=subprocess.PIPE, start_new_session=True, text=True
    )
    with parent.stdout:
        horse = int(parent.stdout.readline())
    assert os.getpgid(horse) != os.getpgid(parent.pid)

    devserver.reap({"worker": parent}, timeout=0, say=lambda _message: None)

    assert parent.returncode is not None
    for _ in range(100):  # the kill is asynchronous; wait for the kernel to reap it
        try:
            os.kill(horse, 0)
        except ProcessLookupError:
            break
        waited = _zombie(horse)
        if waited:
            break
        time.sleep(0.01)
    else:
        pytest.fail(f"work horse {horse} outlived reap()")


def _zombie(pid: int) -> bool:
    """A killed orphan may linger as a zombie until init collects it: that counts as gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


# --- `make run` keeps its workers alive and its console readable ------------------------


def test_a_worker_that_dies_is_started_again_after_a_growing_wait(tmp_path):
    now = [100.0]
    child = devserver.Child(
        "rq worker",
        [sys.executable, "-c", "import sys; print('INFO rq.worker: up'); sys.exit(3)"],
        dict(os.environ),
        tmp_path,
        clock=lambda: now[0],
    )
    said: list[str] = []
    child.start()
    first = child.process
    first.wait(timeout=10)

    child.check(say=said.append)  # noticed: a restart is planned in 1 s
    assert child.restarts == 0 and "exited (exit code 3)" in said[0]
    now[0] += 1.0
    child.check(say=said.append)
    assert child.restarts == 1 and child.process is not first

    child.process.wait(timeout=10)
    child.check(say=said.append)
    assert "restarting it in 2 s" in said[-1]  # it keeps dying: wait longer each time
    now[0] += 1.0
    child.check(say=said.append)
    assert child.restarts == 1
    now[0] += 1.0
    child.check(say=said.append)
    assert child.restarts == 2
    child.process.wait(timeout=10)
    child.pump.join(timeout=10)  # the child's output, read to its end
    assert "INFO rq.worker: up" in (tmp_path / "rq-worker.log").read_text()


def test_the_console_shows_warnings_and_errors_and_the_log_keeps_everything(tmp_path):
    shown: list[str] = []
    console = devserver.Console("rq worker", tmp_path / "worker.log", echo=shown.append)
    lines = [
        "2026-03-02 05:00:00,001 INFO rq.worker: sla: sla.jobs.sweep_job() (abc)",
        "05:00:01 Enqueued job sweep_job to queue sla",
        "2026-03-02 05:00:02,001 ERROR rq.worker: Worker w: found an unhandled exception",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "redis.exceptions.ConnectionError: Error 111",
        "2026-03-02 05:00:03,001 INFO rq.worker: Worker w: Redis is back",
        "2026-03-02 05:00:04,001 WARNING rq.scheduler: Scheduler: Redis down",
    ]

    for line in lines:
        console.route(line)

    assert shown == [f"[rq worker] {line}" for line in lines[2:6] + lines[7:]]
    assert (tmp_path / "worker.log").read_text().splitlines() == lines


def test_the_banner_waits_until_the_portal_answers():
    import http.server
    import socket
    import threading

    class Unhealthy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the handler's API
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args):
            pass

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    assert devserver.answers(f"http://127.0.0.1:{closed}/healthz", timeout=0.5) is False

    server = http.server.HTTPServer(("127.0.0.1", 0), Unhealthy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/healthz"
        assert devserver.answers(url) is True  # 503 before the first sweep still answers
    finally:
        server.shutdown()
        server.server_close()


def test_the_banner_names_the_demo_logins():
    lines = devserver.demo_logins()

    assert lines[0].startswith("Demo logins (password ")
    assert any("admin@moldir.kz" in line for line in lines)
    assert any(line.strip().endswith("applicant") for line in lines)
    assert len(lines) <= 8  # one per role: short enough to stay on the screen

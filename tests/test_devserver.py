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

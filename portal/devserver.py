"""Everything Moldir needs, in one terminal: what `make run` executes.

Prepares the database, then runs the web server, an RQ worker (with RQ's scheduler for
delayed jobs and retries, where the Redis can run it) and the RQ cron scheduler as child
processes.  Without REDIS_URL it serves fakeredis over TCP from this process, so no Redis
installation is needed.

    .venv/bin/python -m portal.devserver
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from fakeredis import TcpFakeServer

# Private, but the only way to fix its request loop (see _FixedHandler).
from fakeredis._tcp_server import TCPFakeRequestHandler

ROOT = Path(__file__).resolve().parent.parent
# The venv's console scripts, whichever venv runs us, so PATH does not matter.
BIN = Path(sys.executable).parent
QUEUES = ("sla", "notifications", "default")
STOP_TIMEOUT = 10.0


def say(message: str) -> None:
    print(f"devserver: {message}", file=sys.stderr, flush=True)


def redact(url: str) -> str:
    """Hide the password in a database or Redis URL before printing it."""
    return re.sub(r"(//[^/@:]*):[^/@]*@", r"\1:***@", url)


def _read_command(rfile) -> list[bytes]:
    """One command as clients send it, a RESP array of bulk strings; [] at end of stream."""
    header = rfile.readline()
    if not header.startswith(b"*"):
        return []
    args = []
    for _ in range(int(header[1:])):
        length = int(rfile.readline()[1:])
        args.append(rfile.read(length + 2)[:-2])
    return args


class _FixedHandler(TCPFakeRequestHandler):
    """fakeredis's request loop, with two bugs fixed that break RQ.

    Its reader strips whitespace off every argument, so a value, pickled job or Lua
    script that starts or ends with a whitespace byte is refused; and it hangs up after
    any error reply, which RQ gets on every enqueue (fakeredis has no INFO), so the next
    command on that pooled connection fails with "Connection closed by server".
    """

    def handle(self) -> None:
        while True:
            try:
                command = _read_command(self.rfile)
            except (OSError, ValueError):
                return
            if not command:
                return
            try:
                reply = self.current_client.connection.execute_command(*command)
            except Exception as exc:  # sent back as an error reply, as Redis does
                reply = exc
            try:
                self.writer.dump(reply)
            except OSError:
                return


class RedisStandin(TcpFakeServer):
    """An in-memory fakeredis on 127.0.0.1, served from a daemon thread."""

    # TcpFakeServer turns this on only after binding, too late for the restart of a
    # run that just stopped: its TIME_WAIT sockets would make the port look taken.
    allow_reuse_address = True

    def __init__(self, port: int):
        super().__init__(("127.0.0.1", port))
        self.RequestHandlerClass = _FixedHandler
        threading.Thread(target=self.serve_forever, name="redis-standin", daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


def start_redis_standin(port: int) -> RedisStandin:
    # fakeredis sets its own logger to DEBUG and builds a record for every command.
    logging.getLogger("fakeredis").setLevel(logging.WARNING)
    try:
        return RedisStandin(port)
    except OSError as exc:
        sys.exit(
            f"devserver: cannot start the Redis stand-in on 127.0.0.1:{port} ({exc.strerror});"
            " set REDIS_STANDIN_PORT to a free port, or REDIS_URL to a running Redis."
        )


def check_redis(url: str) -> None:
    """Fail early and clearly instead of three children dying with tracebacks."""
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        Redis.from_url(url, socket_connect_timeout=3).ping()
    except RedisError as exc:
        sys.exit(
            f"devserver: cannot reach Redis at {redact(url)} ({exc});"
            " unset REDIS_URL to use the built-in stand-in."
        )


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    # A session of its own keeps the terminal's Ctrl+C away from the children: only we
    # get it and pass it on once.  A second SIGINT would make `rq worker` cold-stop,
    # killing the job it is running.
    return subprocess.Popen(  # noqa: S603 - fixed argv of venv executables, no shell
        args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, start_new_session=True
    )


def stop_all(children: dict[str, subprocess.Popen], sig: int) -> None:
    for name, proc in children.items():
        if proc.poll() is None:
            if name == "web":
                # With FLASK_DEBUG the reloader runs the server as a grandchild.
                os.killpg(proc.pid, sig)
            else:
                # Not the group: the worker's work horse treats SIGTERM as "die now",
                # while the worker itself lets it finish the current job first.
                proc.send_signal(sig)
    reap(children, STOP_TIMEOUT, say)


def reap(children: dict[str, subprocess.Popen], timeout: float, say=say) -> None:
    """Wait for signalled children up to `timeout`, then kill each one's process group.

    Each child runs in a session of its own (see `spawn`), so the group holds most of its
    grandchildren (RQ's scheduler, the reloaded server); an RQ work horse calls setpgrp()
    and leaves the group, so descendants are also found through /proc and killed by pid.
    """
    deadline = time.monotonic() + timeout
    for name, proc in children.items():
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop within {timeout:.0f} s; killing it")
    for proc in children.values():
        # Read before killing: once the parent dies its children belong to init.
        stragglers = descendants(proc.pid)
        kills = [(os.killpg, proc.pid)] + [(os.kill, pid) for pid in stragglers]
        for kill, pid in kills:
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        proc.wait()


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc; empty elsewhere or once it has gone)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found.append(child)
            pending.append(child)
    return found


def main() -> int:
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        # Only note it: the main loop does the stopping, never halfway through a spawn.
        received.append(signum)

    # SIGHUP too: children in their own session would outlive a closed terminal.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    env = dict(os.environ)
    # Unbuffered, so the children's logs interleave in order even through `| tee`.
    env.setdefault("PYTHONUNBUFFERED", "1")
    # Logs for a person reading the terminal, also through `| tee` (LOG_FORMAT=json: as in
    # production).
    env.setdefault("LOG_FORMAT", "text")
    port = env.get("PORT", "5000")
    # Links in notifications must point at this server, also when PORT is not 5000.
    env.setdefault("BASE_URL", f"http://127.0.0.1:{port}")
    # RQ's scheduler (delayed jobs, retries with intervals) takes its locks with Lua
    # scripts; fakeredis runs those only when lupa is installed.
    worker_flags = ["--with-scheduler", "--worker-class", "portal.worker.AppWorker"]
    notes = []

    standin = None
    if env.get("REDIS_URL"):
        check_redis(env["REDIS_URL"])
        redis_note = f"{redact(env['REDIS_URL'])} (real Redis)"
    else:
        standin_port = int(env.get("REDIS_STANDIN_PORT", "6399"))
        standin = start_redis_standin(standin_port)
        env["REDIS_URL"] = f"redis://127.0.0.1:{standin_port}/0"
        redis_note = f"{env['REDIS_URL']} (in-memory fakeredis stand-in, emptied on exit)"
        if importlib.util.find_spec("lupa") is None:
            worker_flags = []
            notes.append(
                "Delayed jobs and job retries stay pending: the stand-in cannot run RQ's"
                " scheduler without lupa (pip install lupa, or set REDIS_URL)."
            )
    try:
        return supervise(env, port, redis_note, worker_flags, notes, received)
    finally:
        if standin is not None:
            standin.close()


def supervise(
    env: dict[str, str],
    port: str,
    redis_note: str,
    worker_flags: list[str],
    notes: list[str],
    received: list[int],
) -> int:
    (ROOT / "instance").mkdir(exist_ok=True)
    flask, rq = str(BIN / "flask"), str(BIN / "rq")
    url = env["REDIS_URL"]

    # Migrate and seed first and in order: the three children all expect the schema.
    for step in ("db upgrade", "seed"):
        command = [flask, "--app", "wsgi", *step.split()]
        result = subprocess.run(command, cwd=ROOT, env=env)  # noqa: S603 - fixed argv, no shell
        if received:
            return 0
        if result.returncode != 0:
            say(f"`flask --app wsgi {step}` failed (exit code {result.returncode}); not starting.")
            return 1

    # `rq` puts its working directory on sys.path (--path defaults to "."), which is
    # how `sla.schedule` and the job functions are found: hence cwd=ROOT in spawn().
    children = {
        "web": spawn([flask, "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", port], env),
        "rq worker": spawn([rq, "worker", "--url", url, *worker_flags, *QUEUES], env),
        "rq cron": spawn([rq, "cron", "--url", url, "sla.schedule"], env),
    }
    database = env.get("DATABASE_URL") or "SQLite, instance/moldir.db (default)"
    banner = [
        f"Moldir is starting at http://127.0.0.1:{port}/",
        f"Database: {redact(database)}",
        f"Redis:    {redis_note}",
        f"Workers:  rq worker ({', '.join(QUEUES)}) and rq cron (sla/schedule.py)",
        *(f"Note:     {note}" for note in notes),
        "Ctrl+C stops everything.",
    ]
    print("\n" + "\n".join(f"  {line}" for line in banner) + "\n", flush=True)

    while not received:
        for name, proc in children.items():
            if proc.poll() is not None:
                say(f"{name} exited unexpectedly (exit code {proc.returncode}); stopping the rest.")
                stop_all(children, signal.SIGTERM)
                return 1
        time.sleep(0.2)

    # SIGHUP means nothing to the children; ask them to stop the usual way.
    sig = received[0] if received[0] in (signal.SIGINT, signal.SIGTERM) else signal.SIGTERM
    say("stopping...")
    stop_all(children, sig)
    say("all stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

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


def spawn(args: list[str], env: dict[str, str], quiet: bool = False) -> subprocess.Popen:
    # A session of its own keeps the terminal's Ctrl+C away from the children: only we
    # get it and pass it on once.  A second SIGINT would make `rq worker` cold-stop,
    # killing the job it is running.  `quiet`: output through a pipe (see Console).
    output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT} if quiet else {}
    return subprocess.Popen(  # noqa: S603 - fixed argv of venv executables, no shell
        args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, start_new_session=True, **output
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


# Lines a person should see on the console; the rest goes to instance/logs/<child>.log.
LOUD = ("WARNING", "ERROR", "CRITICAL", "Traceback")
LEVELS = (" DEBUG ", " INFO ", *(f" {level} " for level in LOUD[:-1]))
RESTART_FIRST_WAIT = 1.0
RESTART_LONGEST_WAIT = 30.0


class Console:
    """A child's output: every line to its log file, only warnings and errors (with their
    tracebacks) to the terminal, so the banner and what goes wrong stay readable."""

    def __init__(self, name: str, log_path: Path, echo=None):
        self.name = name
        self.log_path = log_path
        self.echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))
        self._loud = False

    def route(self, line: str) -> bool:
        """Write one line; True when it was also shown on the console."""
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(line + "\n")
        if any(level in line for level in LOUD):
            self._loud = True
        elif any(level in line for level in LEVELS):
            self._loud = False
        # A line with no level (a traceback's body) follows the line before it.
        if self._loud:
            self.echo(f"[{self.name}] {line}")
        return self._loud

    def follow(self, stream) -> threading.Thread:
        def pump():
            with stream:
                for raw in iter(stream.readline, b""):
                    self.route(raw.decode("utf-8", "replace").rstrip("\n"))

        thread = threading.Thread(target=pump, name=f"log-{self.name}", daemon=True)
        thread.start()
        return thread


class Child:
    """A background child (worker, scheduler): restarted with a growing wait if it dies."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path, clock=None):
        self.name, self.args, self.env = name, args, env
        self.console = Console(name, logs / f"{name.replace(' ', '-')}.log")
        self.clock = clock or time.monotonic
        self.process: subprocess.Popen | None = None
        self.pump: threading.Thread | None = None
        self.restarts = 0
        self._wait = RESTART_FIRST_WAIT
        self._restart_at: float | None = None
        self._started_at = 0.0

    def start(self) -> None:
        self.process = spawn(self.args, self.env, quiet=True)
        self.pump = self.console.follow(self.process.stdout)
        self._started_at = self.clock()
        self._restart_at = None

    def check(self, say=say) -> None:
        """Called often: notice a death, and restart once its wait has passed."""
        if self.process is None or self.process.poll() is None:
            return
        now = self.clock()
        if self._restart_at is None:
            if now - self._started_at > 60:  # it had run a good while: start quickly again
                self._wait = RESTART_FIRST_WAIT
            say(
                f"{self.name} exited (exit code {self.process.returncode}); restarting it in"
                f" {self._wait:.0f} s (its log: {_shown(self.console.log_path)})"
            )
            self._restart_at = now + self._wait
            self._wait = min(self._wait * 2, RESTART_LONGEST_WAIT)
        elif now >= self._restart_at:
            self.restarts += 1
            self.start()


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether an HTTP server answers at `url` (any status: /healthz may say 503 at first)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout):  # noqa: S310 - our own http URL
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def demo_logins() -> list[str]:
    from portal.models import Role
    from portal.seed import APPLICANTS, EMPLOYEES, PASSWORD

    lines = [f"Demo logins (password {PASSWORD}):"]
    shown = set()
    for _code, role, email, _name, _locale in EMPLOYEES:
        if role not in shown:
            shown.add(role)
            lines.append(f"  {email:<26} {role.value if isinstance(role, Role) else role}")
    lines.append(f"  {APPLICANTS[0][1]:<26} applicant")
    return lines


def supervise(
    env: dict[str, str],
    port: str,
    redis_note: str,
    worker_flags: list[str],
    notes: list[str],
    received: list[int],
) -> int:
    logs = ROOT / "instance" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    flask, rq = str(BIN / "flask"), str(BIN / "rq")
    url = env["REDIS_URL"]

    # Migrate and seed first and in order: the three children all expect the schema.
    say("preparing the database (log: instance/logs/setup.log)...")
    with open(logs / "setup.log", "ab") as setup_log:
        for step in ("db upgrade", "seed"):
            command = [flask, "--app", "wsgi", *step.split()]
            result = subprocess.run(  # noqa: S603 - fixed argv, no shell
                command, cwd=ROOT, env=env, stdout=setup_log, stderr=subprocess.STDOUT
            )
            if received:
                return 0
            if result.returncode != 0:
                tail = (logs / "setup.log").read_text(errors="replace").splitlines()[-20:]
                print("\n".join(tail), file=sys.stderr)
                say(f"`flask --app wsgi {step}` failed (exit code {result.returncode}); stopped.")
                return 1

    # `rq` puts its working directory on sys.path (--path defaults to "."), which is
    # how `sla.schedule` and the job functions are found: hence cwd=ROOT in spawn().
    web = spawn([flask, "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", port], env)
    background = [
        Child("rq worker", [rq, "worker", "--url", url, *worker_flags, *QUEUES], env, logs),
        Child("rq cron", [sys.executable, "-m", "portal.cron", "--url", url], env, logs),
    ]
    for child in background:
        child.start()

    database = env.get("DATABASE_URL") or "SQLite, instance/moldir.db (default)"
    banner = [
        f"Moldir is running at http://127.0.0.1:{port}/",
        f"Database: {redact(database)}",
        f"Redis:    {redis_note}",
        f"Workers:  rq worker ({', '.join(QUEUES)}) and rq cron (sla/schedule.py),"
        " restarted if they die",
        "Logs:     instance/logs/ (warnings and errors also here)",
        *(f"Note:     {note}" for note in notes),
        *demo_logins(),
        "Ctrl+C stops everything.",
    ]
    # The banner last, once the portal answers, so the start-up lines do not push it away.
    health = f"http://127.0.0.1:{port}/healthz"
    shown = False
    started = time.monotonic()

    while not received:
        if web.poll() is not None:
            say(f"web exited unexpectedly (exit code {web.returncode}); stopping the rest.")
            stop_all(_current(web, background), signal.SIGTERM)
            return 1
        for child in background:
            child.check()
        if not shown and (answers(health) or time.monotonic() - started > 60):
            print("\n" + "\n".join(f"  {line}" for line in banner) + "\n", flush=True)
            shown = True
        time.sleep(0.2)

    # SIGHUP means nothing to the children; ask them to stop the usual way.
    sig = received[0] if received[0] in (signal.SIGINT, signal.SIGTERM) else signal.SIGTERM
    say("stopping...")
    stop_all(_current(web, background), sig)
    say("all stopped.")
    return 0


def _current(web: subprocess.Popen, background: list[Child]) -> dict[str, subprocess.Popen]:
    return {"web": web, **{c.name: c.process for c in background if c.process is not None}}


if __name__ == "__main__":
    sys.exit(main())

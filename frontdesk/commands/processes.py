"""``frontdesk run --processes N``: N gateway processes on one port, supervised by this one.

With ``--ingest-processes K``, K of them only accept webhooks (``--role ingest``) and the other
N - K only run the workers (``--role workers``, not listening), so accepting a webhook never
waits behind a turn on the same event loop.

Each child is a whole ``frontdesk run`` (its own event loop, webhooks and workers) listening on
the same host and port with ``SO_REUSEPORT``, so the kernel spreads connections across them;
they share the conversations through Redis exactly as gateways on several hosts do (the lanes'
locks keep one writer per conversation). The parent only supervises: a child that dies is
started again after a pause (one that exits with an error during startup stops them all: the
configuration or the port is wrong), and SIGTERM or SIGINT is passed on to every child, whose
graceful shutdown hands its held conversations back. Children die with the parent (Linux).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

from common.logging import get_logger

# A child that exits with an error (not killed by a signal) sooner than this after starting
# found a broken setup (the configuration, the port): starting it again would not help.
STARTUP = 30.0
RESTART_PAUSE = 1.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In a child, before exec: SIGTERM it when the supervisor dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _start(command: Sequence[str]) -> subprocess.Popen[bytes]:
    on_linux = sys.platform.startswith("linux")
    return subprocess.Popen(command, preexec_fn=_die_with_parent if on_linux else None)


def child_command(
    config: str | None,
    host: str,
    port: int,
    role: str | None = None,
    metrics_port: int | None = None,
) -> list[str]:
    cmd = [sys.executable, "-m", "frontdesk", "run", "--host", host, "--port", str(port)]
    if config:
        cmd += ["--config", config]
    if role:
        cmd += ["--role", role]
    if metrics_port:
        cmd += ["--metrics-port", str(metrics_port)]
    return [*cmd, "--reuse-port"]


def supervise(commands: Sequence[Sequence[str]], grace: float) -> int:
    """Run one child per command until a signal (a dead child is started again with its own
    command); 0 after a clean stop, 1 when a child fails during startup."""
    count = len(commands)
    log = get_logger(processes=count)
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    children: list[subprocess.Popen[bytes]] = []
    started: list[float] = []
    code = 0
    try:
        for command in commands:
            children.append(_start(command))
            started.append(time.monotonic())
        log.info("processes_started", pids=[c.pid for c in children])
        while not stopping:
            time.sleep(0.2)
            for n, child in enumerate(children):
                status = child.poll()
                if status is None or stopping:
                    continue
                if time.monotonic() - started[n] < STARTUP and status > 0:
                    log.error("process_failed_at_startup", pid=child.pid, status=status)
                    stopping.append(0)
                    code = 1
                    break
                log.warning("process_exited", pid=child.pid, status=status)
                time.sleep(RESTART_PAUSE)
                children[n] = _start(commands[n])
                started[n] = time.monotonic()
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code

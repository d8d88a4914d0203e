"""Gateway processes for multi-process tests: real ``frontdesk run`` subprocesses."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.support.redis_server import free_port

CONFIG = """
server: {{host: 127.0.0.1, port: {port}}}
store: {{url: "{store_url}"}}
workers: {{lease: {lease}, reclaim_idle: {reclaim_idle}, shutdown_grace: 5}}
outbox: {{base_delay: 0.05, max_delay: 0.5, max_attempts: {max_attempts}}}
log: {{level: warning}}
channels:
  api: {{secret: "${{TEST_API_SECRET}}", callback_url: "{callback_url}"}}
"""


def gateway_config(
    directory: Path,
    *,
    store_url: str,
    callback_url: str,
    lease: float = 2,
    reclaim_idle: float = 2,
    max_attempts: int = 3,
    port: int | None = None,
) -> tuple[Path, int]:
    port = port or free_port()
    path = directory / f"gateway-{port}.yml"
    path.write_text(
        CONFIG.format(
            port=port,
            store_url=store_url,
            callback_url=callback_url,
            lease=lease,
            reclaim_idle=reclaim_idle,
            max_attempts=max_attempts,
        )
    )
    return path, port


def spawn(args: list[str], secret: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TEST_API_SECRET": secret}
    with log.open("wb") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp,
        ):
            if resp.status == 200:
                return
        time.sleep(0.05)
    raise RuntimeError("gateway did not become ready")


@contextlib.contextmanager
def running_gateway(config: Path, port: int, secret: str) -> Iterator[subprocess.Popen[bytes]]:
    process = spawn(
        [sys.executable, "-m", "frontdesk", "run", "--config", str(config)],
        secret,
        config.with_suffix(".log"),
    )
    try:
        wait_ready(port, process)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

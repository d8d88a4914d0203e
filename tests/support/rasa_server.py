"""Rasa servers for tests: a fake one (aiohttp, answers ``POST /model/parse`` with recorded
Rasa 3.6 answers or as scripted) and a real one (``rasa run`` from a Python 3.10 virtualenv).

The real server needs Rasa 3.6 in a separate interpreter (open-source Rasa needs Python below
3.11): ``FRONTDESK_RASA_PYTHON`` names that interpreter, else the default virtualenv made by
``scripts/ci_rasa.sh`` (``~/.cache/frontdesk/rasa-venv``) is used when it has Rasa.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.support.redis_server import free_port
from tests.support.serve import serve

PAYLOADS = Path(__file__).parent.parent / "payloads" / "rasa"
DEFAULT_VENV = Path.home() / ".cache" / "frontdesk" / "rasa-venv"
MODEL_CACHE = Path.home() / ".cache" / "frontdesk" / "rasa-models"


def recorded(name: str) -> dict[str, Any]:
    """A ``/model/parse`` answer recorded from a real Rasa 3.6 server (tests/payloads/rasa)."""
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return data


# --------------------------------------------------------------------------- fake server


@dataclass
class FakeRasa:
    """Answers ``POST /model/parse``: ``script`` first (status and body: a dict is sent as
    JSON, bytes as they are), then ``answers[text]``, then ``default``. Records every body."""

    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    default: dict[str, Any] = field(default_factory=lambda: recorded("parse_out_of_scope"))
    script: list[tuple[int, dict[str, Any] | bytes]] = field(default_factory=list)
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)

    async def parse(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.queries.append(dict(request.query))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.script:
            status, payload = self.script.pop(0)
            if isinstance(payload, bytes):
                return web.Response(status=status, body=payload, content_type="application/json")
            return web.json_response(payload, status=status)
        answer = copy.deepcopy(self.answers.get(body["text"], self.default))
        answer["text"] = body["text"]
        return web.json_response(answer)


async def start_fake_rasa(fake: FakeRasa) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/model/parse", fake.parse)
    return await serve(app)


# --------------------------------------------------------------------------- real server


def rasa_python() -> tuple[Path | None, str]:
    """The interpreter that has Rasa, or None and the reason there is none."""
    configured = os.environ.get("FRONTDESK_RASA_PYTHON")
    if not configured and os.environ.get("FRONTDESK_RASA_SKIP_REASON"):
        return None, os.environ["FRONTDESK_RASA_SKIP_REASON"]  # from scripts/ci_rasa.sh
    python = Path(configured) if configured else DEFAULT_VENV / "bin" / "python"
    where = "FRONTDESK_RASA_PYTHON" if configured else f"the default venv {DEFAULT_VENV}"
    if not python.exists():
        return None, f"no Rasa interpreter: {python} ({where}) does not exist; see docs/rasa.md"
    probe = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('rasa'))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0 or not probe.stdout.startswith("3.6."):
        found = probe.stdout.strip() or "not installed"
        return None, f"{python} has no Rasa 3.6 (rasa: {found}); see docs/rasa.md"
    return python, ""


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONWARNINGS": "ignore",
    }


def train_model(python: Path, nlu: Path, config: Path, log: Path) -> Path:
    """``rasa train nlu`` on a file or a directory of NLU YAML, cached by a hash of the data,
    the config and the interpreter."""
    data = sorted(nlu.rglob("*.yml")) if nlu.is_dir() else [nlu]
    digest = hashlib.sha256(
        b"\0".join([*(f.read_bytes() for f in data), config.read_bytes(), str(python).encode()])
    ).hexdigest()[:16]
    model = MODEL_CACHE / f"nlu-{digest}.tar.gz"
    if model.exists():
        return model
    MODEL_CACHE.mkdir(parents=True, exist_ok=True)
    out = MODEL_CACHE / f"training-{digest}-{os.getpid()}"
    out.mkdir()  # also Rasa's working directory: its training cache (.rasa/) goes with it
    args = [str(python), "-m", "rasa", "train", "nlu", "--nlu", str(nlu), "--config"]
    args += [str(config), "--out", str(out), "--fixed-model-name", "nlu"]
    try:
        with log.open("wb") as sink:
            done = subprocess.run(
                args, cwd=out, env=_env(), stdout=sink, stderr=subprocess.STDOUT, timeout=600
            )
        if done.returncode != 0:
            raise RuntimeError(f"rasa train nlu failed ({done.returncode}); see {log}")
        (out / "nlu.tar.gz").replace(model)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return model


class RasaServer:
    """``rasa run --enable-api`` on 127.0.0.1 with one model; ``start`` waits for ``/status``
    to name the loaded model."""

    def __init__(self, python: Path, model: Path, directory: Path) -> None:
        self.python = python
        self.model = model
        self.directory = directory
        self.port = free_port()
        self.log = directory / "rasa-run.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 240.0) -> None:
        args = [str(self.python), "-m", "rasa", "run", "--enable-api", "-i", "127.0.0.1"]
        args += ["-p", str(self.port), "-m", str(self.model)]
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                args, cwd=self.directory, env=_env(), stdout=sink, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"rasa run exited with {self.process.returncode}; see {self.log}"
                )
            with (
                contextlib.suppress(OSError, ValueError, urllib.error.URLError),
                urllib.request.urlopen(f"{self.url}/status", timeout=2) as resp,
            ):
                if json.loads(resp.read()).get("model_file"):
                    return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"rasa run did not load the model within {timeout}s; see {self.log}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

"""Frontdesk next to Rasa 3.6 on the same workload, driven by the same client, in one run.

Rasa: ``rasa run`` from the Python 3.10 virtualenv that ``scripts/ci_rasa.sh`` makes (or
``FRONTDESK_RASA_PYTHON``), trained here on the example bot's NLU data (dialogs/nlu) with the
light pipeline of the Rasa integration test, one rule per intent (``utter_<intent>``) and
RulePolicy, in-memory tracker; driven through its REST channel (the reply comes back in the
answer). Frontdesk: ``frontdesk run`` with the example bot behind the generic API channel (the
reply is POSTed to a callback), as in ``gateway_throughput.py``. Both get the same messages over
the same conversations from the same client (``loadgen.drive``); a turn is a message in and
its reply out.

  python benchmarks/rasa_side_by_side.py [--messages N] [--conversations M] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from gateway_throughput import run_gateway
from loadgen import (
    EXAMPLE_TEXTS,
    HOST,
    ROOT,
    Procs,
    Replies,
    api_load,
    drive,
    free_port,
    ms,
    pct,
    rasa_load,
    spawn,
    stop,
    wait_ready,
)

NLU = ROOT / "dialogs" / "nlu"
PIPELINE = ROOT / "tests" / "payloads" / "rasa" / "config.yml"  # the light, sklearn-only one
VENV = Path.home() / ".cache" / "frontdesk" / "rasa-venv"
MODELS = Path.home() / ".cache" / "frontdesk" / "rasa-models"


def rasa_env() -> dict[str, str]:
    quiet = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return {**os.environ, **quiet, "PYTHONWARNINGS": "ignore", "PYTHONPATH": ""}


def intents() -> list[str]:
    return sorted(
        line.split(":", 1)[1].strip()
        for path in NLU.glob("*.yml")
        for line in path.read_text().splitlines()
        if line.startswith("- intent:")
    )


def rasa_project(directory: Path) -> list[Path]:
    """domain.yml (one response per intent), rules.yml (one rule per intent), config.yml."""
    names = intents()
    domain = {
        "version": "3.1",
        "intents": names,
        "responses": {f"utter_{i}": [{"text": f"answer to {i}"}] for i in names},
    }
    rules = {
        "version": "3.1",
        "rules": [{"rule": i, "steps": [{"intent": i}, {"action": f"utter_{i}"}]} for i in names],
    }
    config = yaml.safe_load(PIPELINE.read_text())
    config["policies"] = [{"name": "RulePolicy"}]
    files = {"domain.yml": domain, "rules.yml": rules, "config.yml": config}
    for name, content in files.items():
        (directory / name).write_text(yaml.safe_dump(content, sort_keys=False))
    return [directory / name for name in files]


def train(python: Path, tmp: Path) -> Path:
    """``rasa train`` (NLU + rules), cached by a hash of the data and the project."""
    project = tmp / "rasa-project"
    project.mkdir()
    domain, rules, config = rasa_project(project)
    data = sorted(NLU.glob("*.yml"))
    digest = hashlib.sha256(
        b"\0".join([*(f.read_bytes() for f in [*data, domain, rules, config])])
    ).hexdigest()[:16]
    model = MODELS / f"bench-{digest}.tar.gz"
    if model.exists():
        return model
    MODELS.mkdir(parents=True, exist_ok=True)
    args = [str(python), "-m", "rasa", "train", "--config", str(config), "--domain", str(domain)]
    args += ["--data", str(NLU), str(rules), "--out", str(project), "--fixed-model-name", "bench"]
    print("training Rasa (cached afterwards) ...", flush=True)
    with (tmp / "rasa-train.log").open("wb") as log:
        done = subprocess.run(args, cwd=project, env=rasa_env(), stdout=log, stderr=log)
    if done.returncode != 0:
        raise RuntimeError(f"rasa train failed ({done.returncode}); see {tmp}/rasa-train.log")
    (project / "bench.tar.gz").replace(model)
    return model


async def main_async(args: argparse.Namespace, python: Path, tmp: Path, procs: Procs) -> int:
    model = await asyncio.to_thread(train, python, tmp)
    n, m, c = args.messages, args.conversations, args.concurrency
    print(f"load: {n} messages, {m} conversations, {c} concurrent senders, unpaced; "
          f"texts: {', '.join(EXAMPLE_TEXTS)}")  # fmt: skip
    secret = secrets.token_hex(16)

    # the reference, as in gateway_throughput.py
    bare_port = free_port()
    here = str(Path(__file__).with_name("gateway_throughput.py"))
    spawn([sys.executable, here, "--serve-bare", str(bare_port), "--secret", secret],
          tmp / "bare.log", procs)  # fmt: skip
    await wait_ready(f"http://{HOST}:{bare_port}/readyz", procs[-1], 30)
    bare_url = [f"http://{HOST}:{bare_port}/webhooks/api"]
    await drive(bare_url, api_load(secret, 200, 50, EXAMPLE_TEXTS), c, args.timeout)
    bare = await drive(bare_url, api_load(secret, n, m, EXAMPLE_TEXTS), c, args.timeout)
    stop(procs)

    # Rasa 3.6: the REST channel answers with the bot's replies
    port = free_port()
    cmd = [str(python), "-m", "rasa", "run", "-i", HOST, "-p", str(port), "-m", str(model)]
    spawn(cmd, tmp / "rasa-run.log", procs, env=rasa_env())
    await wait_ready(f"http://{HOST}:{port}/webhooks/rest/", procs[-1], 300)
    rasa_url = [f"http://{HOST}:{port}/webhooks/rest/webhook"]
    await drive(rasa_url, rasa_load(100, 50, EXAMPLE_TEXTS), c, args.timeout, keep=True)  # warm
    rasa = await drive(rasa_url, rasa_load(n, m, EXAMPLE_TEXTS), c, args.timeout, keep=True)
    stop(procs)
    answered = sum(bool(json.loads(b)) for b in rasa.bodies.values())

    # Frontdesk: one process, the example bot
    replies = Replies(secret)
    cb_runner, cb_port = await replies.serve()
    gw_args = argparse.Namespace(**vars(args), bot="example", spread="reuseport", rate=0.0,
                                 turn_slots=0, reply_timeout=600.0, reply_stall=75.0)  # fmt: skip
    try:
        gw = await run_gateway(gw_args, tmp, secret, replies, cb_port, 1)
    finally:
        await cb_runner.cleanup()

    lat = list(rasa.ack.values())
    print(f"\nbare aiohttp (reference)  {bare.rate:8,.0f} req/s")
    print(f"Rasa 3.6 REST             {rasa.rate:8,.0f} turns/s   ratio to bare "
          f"{rasa.rate / bare.rate:.3f}   turn p50 {ms(pct(lat, 0.5))} p99 {ms(pct(lat, 0.99))}"
          f"   answered {answered}/{n}, errors {dict(rasa.errors) or 'none'}")  # fmt: skip
    print(f"Frontdesk (1 process)     {gw.turns.rate:8,.0f} turns/s   ratio to bare "
          f"{gw.turns.rate / bare.rate:.3f}   ack p99 "
          f"{ms(pct(list(gw.acks.ack.values()), 0.99))}   {gw.turns.summary}")  # fmt: skip
    ratio = gw.turns.rate / rasa.rate if rasa.rate else float("nan")
    print(f"\nFrontdesk / Rasa whole turns/s: {ratio:.1f}x")
    ok = gw.turns.ok and answered == n == len(rasa.ack)
    print("result: OK" if ok else "result: PROBLEMS (see above)")
    return 0 if ok else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--messages", type=int, default=4000)
    p.add_argument("--conversations", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    args = p.parse_args()
    python = Path(os.environ.get("FRONTDESK_RASA_PYTHON") or VENV / "bin" / "python")
    if not python.exists():
        print(f"no Rasa interpreter at {python}: run scripts/ci_rasa.sh (docs/rasa.md)")
        return 2
    procs: Procs = []
    tmp = Path(tempfile.mkdtemp(prefix="frontdesk-rasa-bench-"))
    code = 2
    try:
        code = asyncio.run(main_async(args, python, tmp, procs))
    except Exception as exc:
        print(f"error: {exc!r}", file=sys.stderr)
    finally:
        stop(procs)
        if code == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"logs kept in {tmp}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""Whole turns through the generic API channel, next to a bare aiohttp handler, in one run.

Everything is started here on 127.0.0.1: a bare aiohttp handler (HMAC check + 200, the
reference), a callback server recording each reply, and for each process count a throwaway
redis-server and ``frontdesk run --processes N`` running the example bot (built-in NLU, the
example dialogs). The same client drives each with the same workload; every figure is printed
with the reference measured in the same run (the machine is shared: compare ratios).

  python benchmarks/gateway_throughput.py [--messages N] [--conversations M] [--concurrency C]
                                          [--rate R] [--processes 1,2,2/1] [--bot example|echo]
                                          [--stored 1000,100000]

With ``--stored``, each run's Redis first holds that many stored conversations, copies of one
the gateway answered (benchmarks/seeding.py): the same workload then shows what a turn costs as
the data grows, with Redis bytes per stored conversation and per stored message.

``--processes 2/1`` runs ``frontdesk run --processes 2 --ingest-processes 1``: one process only
accepts webhooks and the other only runs the workers (acknowledgements never wait behind turns).

A whole turn is a signed webhook in, Redis, NLU, dialog, and its first reply signed and POSTed
to the callback. Without --rate the load is as fast as the gateway acknowledges, which queues
work faster than it is answered: whole turns/s is then the drain rate of the backlog, and the
acknowledgement latency shows whether accepting a webhook waits behind turns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import redis
from loadgen import (
    EXAMPLE_TEXTS,
    HOST,
    ROOT,
    Load,
    Procs,
    Replies,
    Result,
    Turns,
    api_load,
    cpu_seconds,
    drive,
    free_port,
    ms,
    pct,
    process_tree,
    serve_bare,
    spawn,
    stop,
    wait_ready,
    wait_replies,
    whole_turns,
)
from seeding import Seeded, stored_conversations


@dataclass(frozen=True)
class Run:
    label: str
    processes: int
    ingest: int  # of the processes, those that only accept webhooks (--ingest-processes)
    acks: Result
    turns: Turns
    # used_memory_dataset (keys and values: not client buffers, not scripts) after the run
    # minus before (the warm-up's kept)
    redis_bytes: int
    cpu: float  # CPU seconds the gateway processes used for the run
    redis_cpu: float
    kernel: float  # of the gateway's, in system calls
    redis_keys: int  # keys added by the run
    commands: int  # Redis commands the run caused (scripts' own calls included)
    stored: tuple[int, int]  # bytes (MEMORY USAGE) and keys of the run's conversations
    seeded: Seeded | None = None  # the stored conversations Redis held before the run


def gateway_config(
    port: int,
    redis_url: str,
    callback: str,
    tmp: Path,
    bot: str,
    turn_slots: int = 0,
    accepting: int = -1,
) -> dict[str, object]:
    workers: dict[str, object] = {}
    if turn_slots:  # (BENCH_TURN_SLOTS in --before-env sets the --before run's own)
        workers["turn_slots"] = f"${{BENCH_TURN_SLOTS:-{turn_slots}}}"
    if accepting >= 0:
        workers["turn_slots_accepting"] = accepting
    config: dict[str, object] = {
        "server": {"host": HOST, "port": port, "public_url": f"http://{HOST}:{port}"},
        "store": {"url": redis_url},
        "log": {"level": "warning"},
        "limits": {"enabled": False},  # a load generator is a flood by design
        "workers": workers,
        "channels": {"api": {"secret": "${BENCH_API_SECRET}", "callback_url": callback}},
    }
    if bot == "example":
        config["dialogs"] = {
            "enabled": True,
            "path": str(ROOT / "dialogs" / "example"),
            "hot_reload": False,
            "demo_order_service": "",
        }
        config["nlu"] = {
            "data": [str(ROOT / "dialogs" / "nlu" / "*.yml")],
            "model_dir": str(tmp / "models"),
        }
    return config


def before_env(tree: Path, tmp: Path, extra: dict[str, str]) -> dict[str, str]:
    """The environment that runs the gateway from another checkout ``tree`` (--before), as it
    was: without hiredis unless that tree asks for it."""
    path = [str(tree)]
    if "hiredis" not in (tree / "pyproject.toml").read_text():
        blocker = tmp / "no-hiredis"
        blocker.mkdir(exist_ok=True)
        (blocker / "hiredis.py").write_text("raise ImportError('not in this tree')\n")
        path.insert(0, str(blocker))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path), **extra}


async def run_gateway(
    args: argparse.Namespace,
    tmp: Path,
    secret: str,
    replies: Replies,
    cb_port: int,
    count: int,
    ingest: int = 0,
    before: Path | None = None,
    stored: int = 0,
) -> Run:
    """A fresh redis-server and ``count`` gateway processes (from the ``before`` tree: on
    their own ports); the workload; the replies."""
    procs: Procs = []
    texts = EXAMPLE_TEXTS if args.bot == "example" else None
    try:
        redis_port = free_port()
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        cmd = [
            server,
            "--bind",
            HOST,
            "--port",
            str(redis_port),
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        spawn([*cmd, "--dir", str(tmp)], tmp / f"redis-{count}.log", procs)
        client = redis.Redis(host=HOST, port=redis_port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                await asyncio.sleep(0.05)
        env = {
            **(
                before_env(before, tmp, dict(v.split("=", 1) for v in args.before_env))
                if before
                else os.environ
            ),
            "BENCH_API_SECRET": secret,
        }
        spread = "ports" if before else args.spread
        callback = f"http://{HOST}:{cb_port}/"
        redis_url = f"redis://{HOST}:{redis_port}/0"
        urls = []
        ports = [free_port() for _ in range(count)] if spread == "ports" else [free_port()]
        for n, port in enumerate(ports):
            path = tmp / f"frontdesk-{count}-{n}.yml"
            path.write_text(
                json.dumps(
                    gateway_config(
                        port,
                        redis_url,
                        callback,
                        tmp,
                        args.bot,
                        args.turn_slots,
                        args.turn_slots_accepting,
                    )
                )
            )
            run = [sys.executable, "-m", "frontdesk", "run", "--config", str(path)]
            if spread == "reuseport":
                run += ["--processes", str(count)]
                if ingest:
                    run += ["--ingest-processes", str(ingest)]
            # from the --before tree's folder: `python -m` imports from the working directory
            spawn(run, tmp / f"gateway-{count}-{n}.log", procs, env=env, cwd=before)
            await wait_ready(f"http://{HOST}:{port}/readyz", procs[-1], 120)
            urls.append(f"http://{HOST}:{port}/webhooks/api")
        m = args.conversations
        warm = api_load(secret, min(m, 50) * 2, min(m, 50), texts)  # connections, NLU, caches
        replies.reset(warm.texts)
        warmed = await drive(urls, warm, args.concurrency, args.timeout)
        await wait_replies(replies, set(warmed.ack), 60, 45)
        seeded = None
        if stored:
            seeded = await stored_conversations(
                urls, secret, replies, texts, client, redis_port, stored
            )
        used_before = int(client.info("memory")["used_memory_dataset"])
        gateways = [pid for p in procs[1:] for pid in process_tree(p.pid)]
        cpu_before = cpu_seconds(gateways), cpu_seconds([procs[0].pid])
        sys_before = cpu_seconds(gateways, system=True)
        keys_before = int(client.dbsize())
        commands_before = redis_commands(client)
        load = api_load(secret, args.messages, m, texts)
        replies.reset(load.texts)
        acks = await drive(urls, load, args.concurrency, args.timeout, args.rate)
        await wait_replies(replies, set(acks.ack), args.reply_timeout, args.reply_stall)
        turns = whole_turns(load, acks, replies)
        cpu = cpu_seconds(gateways) - cpu_before[0], cpu_seconds([procs[0].pid]) - cpu_before[1]
        kernel = cpu_seconds(gateways, system=True) - sys_before
        used = int(client.info("memory")["used_memory_dataset"])
        keys = int(client.dbsize()) - keys_before
        stored_now = conversation_bytes(client, load)
        commands = redis_commands(client) - commands_before
        client.close()
        label = f"before ({before})" if before else "frontdesk"
        used_bytes = used - used_before
        return Run(
            label,
            count,
            ingest,
            acks,
            turns,
            used_bytes,
            *cpu,
            kernel,
            keys,
            commands,
            stored_now,
            seeded,
        )
    finally:
        stop(procs)


def conversation_bytes(client: redis.Redis, load: Load) -> tuple[int, int]:
    """What Redis holds for the run's conversations: the MEMORY USAGE of every key named after
    one of them (session, transcript, dedup and sent sets, console summary and notes), and
    how many keys. Exact, unlike used_memory, which moves with buffers and housekeeping."""
    run = load.conversations[0][0][0].rsplit("-", 2)[0]  # "bench-<run>" of "bench-<run>-0-0"
    total = keys = 0
    for key in client.scan_iter(match=f"*{{api:{run}-u*", count=1000):
        total += int(client.memory_usage(key, samples=0) or 0)
        keys += 1
    return total, keys


def redis_commands(client: redis.Redis) -> int:
    """Commands Redis has run so far, those run inside scripts and transactions included."""
    return int(client.info("stats")["total_commands_processed"])


async def main_async(args: argparse.Namespace, tmp: Path, procs: Procs) -> int:
    secret = secrets.token_hex(16)
    n, m, c = args.messages, args.conversations, args.concurrency
    texts = EXAMPLE_TEXTS if args.bot == "example" else None
    replies = Replies(secret)
    cb_runner, cb_port = await replies.serve()
    try:
        bare_port = free_port()
        spawn([sys.executable, __file__, "--serve-bare", str(bare_port), "--secret", secret],
              tmp / "bare.log", procs)  # fmt: skip
        await wait_ready(f"http://{HOST}:{bare_port}/readyz", procs[-1], 30)
        bare_url = [f"http://{HOST}:{bare_port}/webhooks/api"]
        offered = f", offered {args.rate:,.0f} msg/s" if args.rate > 0 else ", unpaced"
        print(f"load: {n} messages, {m} conversations, {c} concurrent senders{offered}; "
              f"bot: {args.bot}; {os.cpu_count()} cores")  # fmt: skip
        await drive(bare_url, api_load(secret, 200, 50, texts), c, args.timeout)  # warm
        bare = await drive(bare_url, api_load(secret, n, m, texts), c, args.timeout, args.rate)
        stop(procs)
        runs = []
        if args.before:
            runs.append(
                await run_gateway(args, tmp, secret, replies, cb_port, 1, before=args.before)
            )
        for count, ingest in args.processes:
            for stored in args.stored or [0]:
                runs.append(
                    await run_gateway(
                        args, tmp, secret, replies, cb_port, count, ingest, stored=stored
                    )
                )
        # the reference again, after the gateways: the machine's load may have changed
        spawn([sys.executable, __file__, "--serve-bare", str(bare_port), "--secret", secret],
              tmp / "bare2.log", procs)  # fmt: skip
        await wait_ready(f"http://{HOST}:{bare_port}/readyz", procs[-1], 30)
        bare2 = await drive(bare_url, api_load(secret, n, m, texts), c, args.timeout, args.rate)
        stop(procs)
        return report(args, bare, bare2, runs)
    finally:
        await cb_runner.cleanup()


def report(args: argparse.Namespace, bare: Result, bare2: Result, runs: list[Run]) -> int:
    ref = (bare.rate + bare2.rate) / 2
    lat = list(bare.ack.values())
    print(f"\nbare aiohttp (HMAC check + 200): {bare.rate:,.0f} req/s before, "
          f"{bare2.rate:,.0f} after -> reference {ref:,.0f} req/s; "
          f"ack p50 {ms(pct(lat, 0.5))} p99 {ms(pct(lat, 0.99))}")  # fmt: skip
    ok = len(bare.ack) == args.messages
    one = next((r for r in runs if r.processes == 1 and r.label == "frontdesk"), None)
    base = next((r for r in runs if r.label != "frontdesk"), None)
    for r in runs:
        lat = list(r.acks.ack.values())
        t = r.turns
        roles = (
            f" ({r.ingest} ingest only, {r.processes - r.ingest} workers only)" if r.ingest else ""
        )
        print(f"\n{r.label}, {r.processes} process{'es' if r.processes > 1 else ''}{roles}")
        if r.seeded is not None:
            print(f"  stored before        {r.seeded.summary()}")
        print(f"  whole turns/s        {t.rate:8,.0f}   ratio to bare {t.rate / ref:.3f}")
        print(f"  acknowledged/s       {r.acks.rate:8,.0f}   ratio to bare {r.acks.rate / ref:.3f}")
        print(f"  ack latency          p50 {ms(pct(lat, 0.5))}   p99 {ms(pct(lat, 0.99))}")
        print(f"  turn latency         p50 {ms(t.p50)}   p99 {ms(t.p99)}  (request to reply)")
        per_turn = 1000 / max(1, t.received)
        print(f"  CPU per turn         gateway {r.cpu * per_turn:5.2f} ms   "
              f"(of which system {r.kernel * per_turn:4.2f} ms)   "
              f"redis {r.redis_cpu * per_turn:5.2f} ms")  # fmt: skip
        print(f"  redis commands       {r.commands / max(1, t.received):5.1f} per turn "
              f"(those inside scripts included)")  # fmt: skip
        errors = ", ".join(f"{k}: {v}" for k, v in r.acks.errors.items()) or "none"
        print(f"  ack errors           {errors}")
        print(f"  replies              {t.summary}")
        conv = args.conversations
        if r.redis_bytes < 0:  # e.g. a grown key table's old half freed during the run
            print(
                f"  redis after the run  n/a bytes (Redis's memory fell during the run: "
                f"its own housekeeping), {r.redis_keys / conv:.1f} keys per conversation"
            )
        else:
            print(f"  redis after the run  {r.redis_bytes / conv:,.0f} bytes and "
                  f"{r.redis_keys / conv:.1f} keys per conversation "
                  f"({args.messages // conv} messages each: "
                  f"{r.redis_bytes / args.messages:,.0f} bytes per message)")  # fmt: skip
        size, held = r.stored
        print(
            f"  held per conversation {size / conv:,.0f} bytes in {held / conv:.1f} keys "
            f"(MEMORY USAGE of its keys; {size / args.messages:,.0f} bytes per message)"
        )
        if base is not None and r is not base and base.turns.rate:
            print(f"  vs before            x{t.rate / base.turns.rate:.2f} whole turns/s, "
                  f"x{base.cpu / max(r.cpu, 1e-9):.2f} less gateway CPU per turn")  # fmt: skip
        if one is not None and r.label == one.label and r is not one and one.turns.rate:
            versus = f"{one.seeded.conversations:,} stored" if one.seeded else "1 process"
            print(f"  vs {versus:<17s} x{t.rate / one.turns.rate:.2f} whole turns/s")
        ok = ok and t.ok and len(r.acks.ack) == args.messages
    print("\nresult: OK" if ok else "\nresult: PROBLEMS (see above)")
    return 0 if ok else 1


def arrangement(text: str) -> tuple[int, int]:
    """``N`` or ``N/K`` (K of the N processes only accept webhooks) as (N, K)."""
    count, _, ingest = text.strip().partition("/")
    n, k = int(count), int(ingest or 0)
    if n < 1 or k < 0 or (k and k >= n):
        raise ValueError(text)
    return n, k


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--messages", type=int, default=4000)
    p.add_argument("--conversations", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rate", type=float, default=0.0, help="offered msg/s (default: unpaced)")
    p.add_argument("--processes", default="1,2",
                   help="process counts to measure (default 1,2); N/K: N processes of which K "
                        "only accept webhooks and the rest only run the workers")  # fmt: skip
    p.add_argument("--spread", choices=["reuseport", "ports"], default="reuseport",
                   help="reuseport: frontdesk run --processes N on one port (default); "
                        "ports: N frontdesk run on their own ports, round-robin")  # fmt: skip
    p.add_argument(
        "--turn-slots", type=int, default=0, help="workers.turn_slots (default: as configured)"
    )
    p.add_argument("--turn-slots-accepting", type=int, default=-1,
                   help="workers.turn_slots_accepting (default: as configured)")  # fmt: skip
    p.add_argument("--before", type=Path, help="also run 1 process from this checkout, first")
    p.add_argument("--before-env", action="append", default=[], metavar="NAME=VALUE",
                   help="environment of the --before run")  # fmt: skip
    p.add_argument("--stored", default="", metavar="N,N",
                   help="conversations stored before each run (e.g. 1000,100000)")  # fmt: skip
    p.add_argument("--bot", choices=["example", "echo"], default="example")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    p.add_argument("--reply-timeout", type=float, default=600.0, help="seconds for all replies")
    p.add_argument("--reply-stall", type=float, default=75.0, help="> workers.reclaim_idle")
    p.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    p.add_argument("--secret", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_bare is not None:
        serve_bare(args.serve_bare, args.secret)
        return 0
    try:
        args.processes = [arrangement(x) for x in str(args.processes).split(",") if x.strip()]
    except ValueError:
        p.error("--processes: counts N or N/K with 0 < K < N (e.g. 1,2,2/1)")
    args.stored = [int(x.replace("_", "")) for x in str(args.stored).split(",") if x.strip()]
    if min(args.messages, args.conversations, args.concurrency) < 1:
        p.error("--messages, --conversations, --concurrency and --processes must be positive")
    if any(n < 1 for n in args.stored):
        p.error("--stored must be positive")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    procs: Procs = []
    tmp = Path(tempfile.mkdtemp(prefix="frontdesk-bench-"))
    code = 2
    try:
        code = asyncio.run(main_async(args, tmp, procs))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:
        print(f"error: {exc!r}", file=sys.stderr)
        for log in sorted(tmp.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-20:]
            print(f"--- {log.name} (last lines)", *tail, sep="\n", file=sys.stderr)
    finally:
        stop(procs)
        if code == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"logs kept in {tmp}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

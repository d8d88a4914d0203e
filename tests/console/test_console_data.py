"""The console's data over time: ``frontdesk console rebuild`` gives the same figures from what
the store holds; erasing a customer takes them out of the console's lists and indexes; the live
API shows a waiting handoff, then the agent who claimed it."""

from __future__ import annotations

from typing import Any

from console.rebuild import rebuild
from console.web import CONSOLE
from gateway.privacy import erase_customer, export_customer, resolve
from gateway.store.redis import RedisStore
from tests.console.conftest import (
    ADMIN,
    OTHER_PHONE,
    Project,
    login,
    open_console,
    overview,
    run_conversations,
)
from tests.handoff.conftest import Desk
from tests.support.waiting import until

Client = Any


def _console(client: Any) -> Any:
    return next(r._app for r in client.app.router.resources() if getattr(r, "_app", None))[CONSOLE]


async def _settled(client: Any) -> dict[str, Any]:
    async def done() -> Any:
        s = (await overview(client))["summary"]
        return s if sum(s["outcomes"].values()) == 2 and s["conversations"] == 3 else None

    return dict(await until(done))


async def test_rebuild_gives_the_figures_back_from_the_store(
    desk: Desk, aiohttp_client: Client, redis_url: str, project: Project
) -> None:
    client = await open_console(desk, aiohttp_client, redis_url, project)
    await run_conversations(desk)
    await login(client, ADMIN)
    before = await _settled(client)
    listed = await (await client.get("/console/api/conversations?preset=24h")).json()
    console = _console(client)
    done = await rebuild(console.redis, retention=86400)
    assert done["conversations"] == 3
    after = (await overview(client))["summary"]
    for field in ("conversations", "handed_off", "handoffs_by_trigger", "outcomes", "csat",
                  "time_to_claim", "time_to_first_reply", "duration"):  # fmt: skip
        assert after[field] == before[field], field
    again = await (await client.get("/console/api/conversations?preset=24h")).json()
    assert sorted(r["ref"] for r in again["rows"]) == sorted(r["ref"] for r in listed["rows"])
    found = await (await client.get("/console/api/conversations?preset=24h&rating=5")).json()
    assert [r["conversation"] for r in found["rows"]] == ["telegram:1111111"]


async def test_an_erased_customer_leaves_the_console(
    desk: Desk, aiohttp_client: Client, redis_url: str, project: Project
) -> None:
    client = await open_console(desk, aiohttp_client, redis_url, project)
    await run_conversations(desk)
    await login(client, ADMIN)
    await _settled(client)
    store = desk.gateway.store
    assert isinstance(store, RedisStore)
    customer = resolve(OTHER_PHONE)
    exported = await export_customer(store, customer)
    assert exported["data"]["console"][f"tel:{OTHER_PHONE}"]["summary"]["trigger"] == "keyword"
    erasure = await erase_customer(store, customer)
    assert erasure.counts["console"] > 0
    rows = (await (await client.get("/console/api/conversations?preset=24h")).json())["rows"]
    assert f"tel:{OTHER_PHONE}" not in {r["conversation"] for r in rows}
    returned = await client.get("/console/api/conversations?preset=24h&outcome=returned")
    assert (await returned.json())["rows"] == []
    leftovers = [
        k async for k in store.redis.scan_iter(match="fd:{console}:*")
        if OTHER_PHONE.encode() in (await store.redis.dump(k) or b"")
    ]  # fmt: skip
    assert leftovers == []


async def test_live_shows_waiting_then_claimed(
    desk: Desk, aiohttp_client: Client, redis_url: str, project: Project
) -> None:
    client = await open_console(desk, aiohttp_client, redis_url, project)
    await login(client, ADMIN)
    await desk.telegram_says("agent")
    card = await desk.card_ts(1)

    async def live() -> dict[str, Any]:
        return dict(await (await client.get("/console/api/live")).json())

    waiting = await until(lambda: _when(live(), lambda d: len(d["waiting"]) == 1))
    assert waiting["waiting"][0]["trigger"] == "keyword" and waiting["claimed"] == []
    await desk.press("handoff:claim", "UALICE", "alice", card)
    claimed = await until(lambda: _when(live(), lambda d: d["by_agent"] == {"Alice": 1}))
    assert claimed["waiting"] == []


async def _when(data: Any, check: Any) -> Any:
    value = await data
    return value if check(value) else None


def test_add_user_writes_a_hash_never_the_password(tmp_path: Any) -> None:
    import json
    import os
    import subprocess
    import sys

    config = tmp_path / "config.yml"
    users = tmp_path / "users.json"
    config.write_text(f"console:\n  users_file: {users}\n")

    def add(name: str, password: str, *role: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "frontdesk", "console", "add-user", name, *role,
             "--password-stdin", "--config", str(config)],
            input=password + "\n", capture_output=True, text=True, env=dict(os.environ),
        )  # fmt: skip

    assert add("root", "a-long-password", "--role", "admin").returncode == 0
    refused = add("short", "too-short")
    assert refused.returncode == 1 and "at least 10 characters" in refused.stderr
    written = users.read_text()
    assert "a-long-password" not in written
    (entry,) = json.loads(written)["users"]
    assert entry["name"] == "root" and entry["role"] == "admin"
    assert entry["hash"].startswith("$argon2id$")
    assert oct(users.stat().st_mode & 0o777) == "0o600"
    from console.users import load_users, verify

    assert verify(load_users(str(users)), "root", "a-long-password") is not None
    assert verify(load_users(str(users)), "root", "wrong-password") is None

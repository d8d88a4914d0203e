"""Access and erasure requests end to end: real conversations in real Redis, then export and
erase one customer (a tel: customer on SMS and WhatsApp) while another is left untouched."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from channels.console import ConsoleChannel
from channels.web.log import RedisLog
from common import redisconn
from common.messages import ConversationRef, CustomerMessage, CustomerRef, OutboundMessage
from dialogs.echo import EchoDialog
from frontdesk.app import build_gateway
from frontdesk.config import Settings
from gateway.handoff.store import RedisHandoffStore
from gateway.privacy import erase_customer, erasures, export_customer, resolve
from gateway.store.base import DeadLetter
from gateway.store.redis import DLQ, RedisStore, _letter_json, conversation_key
from tests.support.waiting import until

PHONE = "+14155238886"
OTHER = "api:other-customer"


@pytest.fixture(params=["single", "cluster"])
def redis_url(request: pytest.FixtureRequest, redis_url: str) -> str:
    """These tests on one Redis server and on Redis Cluster (keys spread over 3 primaries)."""
    return redis_url if request.param == "single" else str(request.getfixturevalue("cluster_url"))


class RecordingChannel(ConsoleChannel):
    def __init__(self, name: str) -> None:
        self.sent: list[OutboundMessage] = []
        super().__init__(self.sent.append, name=name)


def message(channel: str, user: str, text: str, name: str) -> CustomerMessage:
    return CustomerMessage(
        event_id=f"{channel}-{text}",
        conversation=ConversationRef(channel=channel, chat_id=user),
        customer=CustomerRef(channel=channel, user_id=user, display_name=name),
        text=text,
    )


async def converse(redis_url: str) -> dict[str, RecordingChannel]:
    """Ann on SMS and WhatsApp (one tel: customer), Bob on the API channel; a handoff card,
    a dead letter and a website chat log for Ann's number and for Bob."""
    channels = {n: RecordingChannel(n) for n in ("sms", "whatsapp", "api")}
    settings = Settings.model_validate({"store": {"url": redis_url}})
    gateway = build_gateway(settings, dialog=EchoDialog(), channels=dict(channels))
    await gateway.start()
    try:
        await gateway.ingest.accept(message("sms", "+1 (415) 523-8886", "my order 4711", "Ann"))
        await gateway.ingest.accept(
            message("whatsapp", f"whatsapp:{PHONE}", "ann secret words", "Ann W")
        )
        await gateway.ingest.accept(message("api", "other-customer", "bob keeps this", "Bob"))
        await until(lambda: all(c.sent for c in channels.values()))
    finally:
        await gateway.stop()
    client = redisconn.connect(redis_url)
    hstore = RedisHandoffStore(client)
    for key, ts in ((f"tel:{PHONE}", "111.222"), (OTHER, "333.444")):
        await hstore.record_card(key, "card-1", ts, json.dumps({"name": key}))
        await hstore.schedule(key, time.time() + 60, json.dumps({"name": key}))
        letter = DeadLetter(f"dl-{key}", key, b'{"text": "undelivered"}', "400", 1, time.time())
        await client.hset(DLQ, letter.id, _letter_json(letter))
    await redisconn.close(client)
    log = RedisLog(redis_url, keep=100, ttl=3600)
    await log.append("v-ann", "c1", {"from": "customer", "text": "ann on the web"})
    await log.append("v-bob", "c1", {"from": "customer", "text": "bob on the web"})
    await log.close()
    return channels


async def everything(redis_url: str) -> str:
    """Every key and value in Redis, as one searchable text."""
    client = redisconn.connect(redis_url)
    parts = []
    async for key in client.scan_iter(count=1000):
        parts.append(key.decode())
        kind = (await client.type(key)).decode()
        if kind == "string":
            parts.append(repr(await client.get(key)))
        elif kind == "list":
            parts.append(repr(await client.lrange(key, 0, -1)))
        elif kind == "hash":
            parts.append(repr(await client.hgetall(key)))
        elif kind == "zset":
            parts.append(repr(await client.zrange(key, 0, -1)))
        elif kind == "stream":
            parts.append(repr(await client.xrange(key)))
    await redisconn.close(client)
    return "\n".join(parts)


@pytest.mark.parametrize(
    "asked",
    ["+1 415-523-8886", "001 415 523 8886", "whatsapp:+14155238886", "sms:14155238886", PHONE],
)
def test_any_form_of_a_number_is_the_tel_customer(asked: str) -> None:
    assert resolve(asked).canonical == f"tel:{PHONE}"


async def test_export_shows_both_channels_handoff_dead_letters(redis_url: str) -> None:
    await converse(redis_url)
    store = RedisStore(redis_url)
    try:
        report = await export_customer(store, resolve("(+1) 415 523 8886"))
    finally:
        await store.close()
    data = report["data"]
    ann = data["conversation"][f"tel:{PHONE}"]
    assert ann["session"]["channels"] == ["sms", "whatsapp"]
    assert [e["text"] for e in ann["transcript"] if e["direction"] == "in"] == [
        "my order 4711",
        "ann secret words",
    ]
    assert data["handoff"][f"tel:{PHONE}"]["threads"][0]["slack_ts"] == "111.222"
    assert [d["id"] for d in data["dead_letters"]] == [f"dl-tel:{PHONE}"]
    assert "bob keeps this" not in json.dumps(report)
    web = RedisStore(redis_url)
    try:
        chat = await export_customer(web, resolve("v-ann"))
    finally:
        await web.close()
    assert [r["e"]["text"] for r in chat["data"]["web_log"]["v-ann"]] == ["ann on the web"]


async def test_erase_removes_every_trace_and_keeps_the_other_customer(redis_url: str) -> None:
    channels = await converse(redis_url)
    before = await everything(redis_url)
    assert "4711" in before and "14155238886" in before and "ann on the web" in before
    store = RedisStore(redis_url)
    try:
        erasure = await erase_customer(store, resolve("whatsapp:+14155238886"))
        await erase_customer(store, resolve("v-ann"))
        records = await erasures(store)
    finally:
        await store.close()
    after = await everything(redis_url)
    for trace in ("4711", "ann secret words", "14155238886", "Ann", "111.222", "ann on the web"):
        assert trace not in after
    for kept in ("bob keeps this", "other-customer", "333.444", "bob on the web"):
        assert kept in after
    assert erasure.counts["conversation"] >= 3 and erasure.counts["handoff"] >= 3
    assert erasure.counts["dead_letters"] == 1
    assert records[0].subject == erasure.subject
    assert PHONE not in erasure.subject and len(erasure.subject) == 64

    # The same person writes again: a fresh conversation, no memory of the old one.
    settings = Settings.model_validate({"store": {"url": redis_url}})
    gateway = build_gateway(settings, dialog=EchoDialog(), channels=dict(channels))
    await gateway.start()
    try:
        channels["sms"].sent.clear()
        await gateway.ingest.accept(message("sms", PHONE, "hello again", "Ann"))
        await until(lambda: channels["sms"].sent)
        stored = await gateway.store.load_session(f"tel:{PHONE}")
        assert stored is not None
        assert json.loads(stored.data)["dialog"]["turn"] == 1
    finally:
        await gateway.stop()


async def test_erase_waits_for_a_turn_in_progress(redis_url: str) -> None:
    store = RedisStore(redis_url)
    try:
        assert await store.acquire("turns", f"tel:{PHONE}", "worker", 30)
        erasing = asyncio.create_task(erase_customer(store, resolve(PHONE), wait=20))
        await asyncio.sleep(0)  # let the erasure try the lock
        assert not erasing.done()
        await store.release("turns", f"tel:{PHONE}", "worker")
        erasure = await erasing
        assert erasure.removed == 0
    finally:
        await store.close()


def cli(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "frontdesk", "customer", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )


async def test_cli_exports_and_erases_only_with_yes(redis_url: str, tmp_path: Path) -> None:
    await converse(redis_url)
    config = tmp_path / "config.yml"
    config.write_text(f"store:\n  url: {redis_url}\n")
    out = tmp_path / "ann.json"
    done = await asyncio.to_thread(
        cli, "export", "+1 415 523 8886", "--out", str(out), config=config
    )
    assert done.returncode == 0, done.stderr
    assert "ann secret words" in out.read_text()
    refused = await asyncio.to_thread(cli, "erase", PHONE, config=config)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert "ann secret words" in await everything(redis_url)
    erased = await asyncio.to_thread(cli, "erase", PHONE, "--yes", config=config)
    assert erased.returncode == 0, erased.stderr
    assert json.loads(erased.stdout)["removed"]["dead_letters"] == 1
    assert "ann secret words" not in await everything(redis_url)


async def test_keys_under_a_channel_form_of_the_number_belong_to_the_customer(
    redis_url: str,
) -> None:
    """Data kept under ``whatsapp_cloud:<digits>`` is the tel: customer's; a Telegram user whose
    id happens to be the same digits is someone else."""
    store = RedisStore(redis_url)
    client = store.redis
    try:
        cloud = conversation_key("whatsapp_cloud:14155238886", "session")
        telegram = conversation_key("telegram:14155238886", "session")
        await client.hset(cloud, mapping={"v": 1, "data": '{"names": {"x": "cloud Ann"}}'})
        await client.hset(telegram, mapping={"v": 1, "data": '{"names": {"x": "tg Tom"}}'})
        report = await export_customer(store, resolve(PHONE))
        assert "cloud Ann" in json.dumps(report) and "tg Tom" not in json.dumps(report)
        await erase_customer(store, resolve(PHONE))
        assert not await client.exists(cloud) and await client.exists(telegram)
    finally:
        await store.close()


async def test_cli_lists_erasure_records_without_personal_data(
    redis_url: str, tmp_path: Path
) -> None:
    await converse(redis_url)
    config = tmp_path / "config.yml"
    config.write_text(f"store:\n  url: {redis_url}\n")
    erased = await asyncio.to_thread(cli, "erase", "+1 (415) 523-8886", "--yes", config=config)
    assert erased.returncode == 0, erased.stderr
    listed = await asyncio.to_thread(cli, "erasures", config=config)
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.splitlines()
    record = json.loads(line)
    assert record["subject"] == json.loads(erased.stdout)["subject"]
    assert record["removed"]["conversation"] >= 3
    for personal in ("14155238886", "4711", "Ann"):
        assert personal not in line
    memory = tmp_path / "memory.yml"
    memory.write_text("store:\n  url: memory://\n")
    refused = await asyncio.to_thread(cli, "export", PHONE, config=memory)
    assert refused.returncode == 1 and "memory://" in refused.stderr

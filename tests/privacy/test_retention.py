"""Retention: nothing about a customer outlives ``store.transcript_retention``."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from common import redisconn
from common.settings import ConfigError
from dialogs.base import Outcome, TurnContext
from dialogs.echo import EchoDialog
from frontdesk.app import build_gateway
from frontdesk.config import Settings, parse_settings
from gateway.handoff.store import RedisHandoffStore
from gateway.privacy.retention import sweep
from gateway.store.base import DeadLetter
from gateway.store.redis import DLQ, _letter_json
from tests.privacy.test_export_erase import PHONE, RecordingChannel, message, until


@pytest.fixture(params=["single", "cluster"])
def redis_url(request: pytest.FixtureRequest, redis_url: str) -> str:
    """These tests on one Redis server and on Redis Cluster (keys spread over 3 primaries)."""
    return redis_url if request.param == "single" else str(request.getfixturevalue("cluster_url"))


@pytest.mark.parametrize(
    ("text", "seconds"), [("90d", 90 * 86400), ("12h", 43200), ("45m", 2700), ("3600", 3600)]
)
def test_retention_accepts_durations(text: str, seconds: float) -> None:
    settings = parse_settings(f"store:\n  transcript_retention: {text}\n", "config.yml")
    assert settings.store.transcript_retention == seconds


def test_a_bad_retention_names_file_and_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings("store:\n  url: memory://\n  transcript_retention: 9 parsecs\n", "c.yml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == ("c.yml", 3)
    assert "transcript_retention" in problem.message and "duration" in problem.message


def test_default_retention_is_90_days_and_caps_session_and_dedup_ttls() -> None:
    assert Settings().store.transcript_retention == 90 * 86400
    store = parse_settings("store:\n  transcript_retention: 2h\n", "c.yml").store
    assert store.session_ttl == store.dedup_ttl == 7200


class MissingDialog(EchoDialog):
    """Echoes, and says it understood nothing (the review inbox keeps such a miss)."""

    async def respond(self, state: Any, event: Any, context: TurnContext) -> Outcome:
        outcome = await super().respond(state, event, context)
        return Outcome(state=outcome.state, replies=outcome.replies, debug={"intent": None})


async def test_every_key_about_a_customer_expires_within_retention(redis_url: str) -> None:
    retention = 3600
    sms = RecordingChannel("sms")
    settings = Settings.model_validate(
        {"store": {"url": redis_url, "transcript_retention": f"{retention}s"}}
    )
    gateway = build_gateway(settings, dialog=MissingDialog(), channels={"sms": sms})
    await gateway.start()
    try:
        await gateway.ingest.accept(message("sms", PHONE, "keep me briefly", "Ann"))
        await until(lambda: sms.sent)
    finally:
        await gateway.stop()
    client = redisconn.connect(redis_url)
    try:
        hstore = RedisHandoffStore(client, retention=retention)
        await hstore.record_card(f"tel:{PHONE}", "card-1", "111.222", json.dumps({"n": "Ann"}))
        await hstore.record_relay(f"tel:{PHONE}", "wamid.1", "111.333")
        about = [k async for k in client.scan_iter(count=1000) if PHONE.encode() in k]
        about += [k async for k in client.scan_iter(match="fd:handoff:thread:*")]
        about += [k async for k in client.scan_iter(match="fd:{review}:item:*")]
        assert any(k.startswith(b"fd:{review}:item:") for k in about)  # the bot missed it
        assert len(about) >= 5  # session, transcript, dedup id, sent marker, card, thread…
        for key in about:
            ttl = await client.ttl(key)
            assert 0 < ttl <= retention, (key, ttl)
    finally:
        await redisconn.close(client)


async def test_the_sweep_removes_dead_letters_older_than_retention(redis_url: str) -> None:
    client = redisconn.connect(redis_url)
    try:
        now = time.time()
        for name, age in (("old", 7200.0), ("new", 60.0)):
            letter = DeadLetter(name, f"tel:{PHONE}", b"{}", "400", 1, now - age)
            await client.hset(DLQ, name, _letter_json(letter))
        assert await sweep(client, retention=3600, now=now) == 1
        assert await client.hkeys(DLQ) == [b"new"]
    finally:
        await redisconn.close(client)


async def test_old_entries_of_an_active_customer_are_trimmed(redis_url: str) -> None:
    """Each turn renews the transcript's TTL: entries older than retention go by the sweep."""
    from channels.web.log import RedisLog
    from gateway.privacy.retention import trim_old_entries
    from gateway.sessions import TranscriptEntry, encode_entry
    from gateway.store.redis import conversation_key

    now = time.time()
    client = redisconn.connect(redis_url)
    log = RedisLog(redis_url, keep=100, ttl=86400)
    try:
        transcript = conversation_key(f"tel:{PHONE}", "transcript")
        for at, text in ((now - 7200, "old words"), (now - 60, "recent words")):
            entry = TranscriptEntry(at=at, direction="in", channel="sms", text=text)
            await client.rpush(transcript, encode_entry(entry))
        await client.xadd(
            "web:{v-ann}:log", {"e": "old web words"}, id=f"{int(now - 7200) * 1000}-0"
        )
        await log.append("v-ann", "c2", {"from": "customer", "text": "recent web words"})
        assert await trim_old_entries(client, retention=3600, now=now) == 2
        assert [json.loads(e)["text"] for e in await client.lrange(transcript, 0, -1)] == [
            "recent words"
        ]
        (only,) = await client.xrange("web:{v-ann}:log")
        assert b"recent web words" in only[1][b"e"]
    finally:
        await log.close()
        await redisconn.close(client)

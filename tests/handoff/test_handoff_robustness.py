"""Nothing is lost or doubled: Slack's retries, rate limits and outages, a restart in the middle
of a handoff, and a relayed reply the customer's platform refuses."""

from __future__ import annotations

import asyncio
import time

from frontdesk.commands.stats import print_stats
from gateway.handoff.store import handoff_store
from gateway.store import open_store
from tests.handoff.conftest import PHONE, Client, Desk, until
from tests.support.fake_slack import Reply
from tests.support.fake_twilio import twilio_error
from tests.support.waiting import drained

TG = "telegram:1111111"


def texts(desk: Desk) -> list[str]:
    return [c.params["text"] for c in desk.telegram.of("sendMessage")]


async def start(desk: Desk, aiohttp_client: Client, redis_url: str) -> str:
    await desk.open(aiohttp_client, redis_url)
    await desk.telegram_says("agent")
    card_ts = await desk.card_ts()
    await until(lambda: desk.slack.thread(card_ts))  # the transcript
    return card_ts


async def test_slack_retry_of_a_reply_relays_it_once(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    card_ts = await start(desk, aiohttp_client, redis_url)
    await desk.press("handoff:claim", "UALICE", "alice", card_ts)
    ts = "1800000000.000100"
    await desk.agent_says("only once", "UALICE", card_ts, event_id="EvONCE", ts=ts)
    await desk.agent_says("only once", "UALICE", card_ts, event_id="EvONCE", ts=ts, retry=1)
    await desk.agent_says("after", "UALICE", card_ts)
    await until(lambda: "Alice: after" in texts(desk))
    assert texts(desk).count("Alice: only once") == 1


async def test_slack_rate_limit_and_outage_deliver_later_once_in_order(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    card_ts = await start(desk, aiohttp_client, redis_url)
    desk.slack.script.append(
        Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
    )
    await desk.telegram_says("first")
    await until(lambda: "*Test Firstname Test Lastname*: first" in desk.slack.thread(card_ts))
    desk.slack.down = True
    for text in ("one", "two", "three"):
        await desk.telegram_says(text)
    await until(lambda: sum(c.status == 503 for c in desk.slack.calls) >= 4)
    # Time is the point here: Slack stays down longer than the outbox's 3 attempts (at most
    # 0.05 + 0.1 + 0.2 s apart) would last; handoff posts must carry on (relay_attempts).
    await asyncio.sleep(0.5)
    desk.slack.down = False
    expected = [f"*Test Firstname Test Lastname*: {t}" for t in ("first", "one", "two", "three")]
    await until(lambda: desk.slack.thread(card_ts)[1:] == expected)
    await drained(desk.gateway)
    assert desk.slack.thread(card_ts)[1:] == expected
    assert await desk.gateway.store.dead_letters() == []


async def test_restart_in_the_middle_of_a_handoff_loses_nothing(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    card_ts = await start(desk, aiohttp_client, redis_url)
    await desk.press("handoff:claim", "UALICE", "alice", card_ts)
    await until(lambda: "You're now talking with Alice." in texts(desk))
    assert desk.client is not None
    await desk.client.close()  # the gateway stops
    await desk.open(aiohttp_client, redis_url)  # a new process on the same Redis
    await desk.telegram_says("still there?")
    await until(
        lambda: "*Test Firstname Test Lastname*: still there?" in desk.slack.thread(card_ts)
    )
    await desk.agent_says("Yes, still here", "UALICE", card_ts)
    await until(lambda: "Alice: Yes, still here" in texts(desk))
    await desk.press("handoff:resolve", "UALICE", "alice", card_ts)
    await until(lambda: any("rate the help" in t for t in texts(desk)))


async def test_a_refused_relay_is_reported_in_the_thread(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    await desk.open(aiohttp_client, redis_url)
    await desk.sms_says("agent")
    card_ts = await desk.card_ts()
    await desk.press("handoff:claim", "UALICE", "alice", card_ts)
    await until(
        lambda: any(
            r.field("Body") == "You're now talking with Alice." for r in desk.twilio.accepted
        )
    )
    desk.twilio.script.append(twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))
    ts = await desk.agent_says("Are you there?", "UALICE", card_ts)
    note = await until(
        lambda: [t for t in desk.slack.thread(card_ts) if t.startswith("Not delivered")]
    )
    assert "SMS" in note[0] and "21610" in note[0]
    assert (ts, "x") in desk.slack.reactions()
    assert [r.field("To") for r in desk.twilio.requests][-1] == PHONE


async def test_stats_summarise_the_period(
    desk: Desk, aiohttp_client: Client, redis_url: str, capsys: object
) -> None:
    card_ts = await start(desk, aiohttp_client, redis_url)
    await desk.press("handoff:claim", "UALICE", "alice", card_ts)
    await desk.agent_says("hello", "UALICE", card_ts)
    await desk.press("handoff:resolve", "UALICE", "alice", card_ts)
    await until(lambda: any("rate the help" in t for t in texts(desk)))
    await desk.telegram_presses("csat:5")
    await until(lambda: "Thank you for your feedback!" in texts(desk))
    await drained(desk.gateway)
    assert await print_stats(redis_url, 3600) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "handoffs:            1 (keyword 1)" in out
    assert "ended:               resolved 1" in out
    assert "satisfaction:        5.0 / 5 from 1 ratings" in out
    assert "bot containment:     0% of 1 conversations" in out
    assert "time to claim:       median" in out


async def test_stats_records_logged_out_of_event_order_are_all_kept(redis_url: str) -> None:
    """Two conversations hand off at nearly the same moment; the later event's record reaches
    the stream first. Both are kept and both are counted (an id taken from the event time was
    refused as smaller than the stream's top)."""
    store = open_store(redis_url)
    try:
        stats = handoff_store(store)
        now = time.time()
        await stats.log({"kind": "handoff", "key": "telegram:2", "at": now})
        await stats.log({"kind": "handoff", "key": "telegram:1", "at": now - 0.5})
        records = await stats.records(now - 60, now + 60)
        assert sorted(r["key"] for r in records) == ["telegram:1", "telegram:2"]
        assert await stats.records(now + 1, now + 60) == []  # still read by event time
    finally:
        await store.close()

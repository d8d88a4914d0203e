"""Export and erasure of a customer who was handed off to an agent, over SMS and WhatsApp,
while the gateway keeps running (and another customer, on Telegram, is left untouched)."""

from __future__ import annotations

import redis.asyncio as aioredis

from gateway.privacy import erase_customer, export_customer, resolve
from gateway.store.redis import RedisStore
from tests.handoff.conftest import PHONE, Client, Desk, until
from tests.privacy.test_export_erase import everything


async def test_a_handed_off_phone_customer_is_exported_then_erased(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    await desk.open(aiohttp_client, redis_url)
    await desk.telegram_says("telegram customer stays")
    await desk.sms_says("agent")
    card_ts = await desk.card_ts()
    await desk.press("handoff:claim", "UALICE", "alice", card_ts)
    await desk.agent_says("Hi from Alice", "UALICE", card_ts)
    await until(
        lambda: any(r.field("Body") == "Alice: Hi from Alice" for r in desk.twilio.accepted)
    )
    await desk.whatsapp_says("my address is 12 Privacy Lane")
    await until(lambda: any("12 Privacy Lane" in t for t in desk.slack.thread(card_ts)))
    digits = PHONE.removeprefix("+")

    store = RedisStore(redis_url)
    try:
        report = await export_customer(store, resolve(f"whatsapp:{PHONE}"))
        data = report["data"]
        convo = data["conversation"][f"tel:{PHONE}"]
        assert convo["session"]["channels"] == ["sms", "whatsapp"]
        assert convo["session"]["owner"] == "agent"
        said = [e["text"] for e in convo["transcript"]]
        assert "my address is 12 Privacy Lane" in said
        threads = data["handoff"][f"tel:{PHONE}"]["threads"]
        assert [t["slack_ts"] for t in threads] == [card_ts]
        assert "telegram customer stays" not in str(report)

        erasure = await erase_customer(store, resolve(f"sms:{digits}"))
        assert erasure.counts["conversation"] >= 2 and erasure.counts["handoff"] >= 2
    finally:
        await store.close()
    after = await everything(redis_url)
    for trace in (digits, "12 Privacy Lane", card_ts):
        assert trace not in after
    assert "telegram customer stays" in after

    # The agent's next reply in the old thread reaches no one; the customer starts afresh.
    await desk.sms_says("hello again")
    await until(lambda: any(r.field("Body") == "bot: hello again" for r in desk.twilio.accepted))
    session = await desk.session(f"tel:{PHONE}")
    assert (session.owner, session.handoff, session.channels) == ("bot", None, ("sms",))
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert len(await client.lrange(f"fd:{{tel:{PHONE}}}:transcript", 0, -1)) == 2
    finally:
        await client.aclose()

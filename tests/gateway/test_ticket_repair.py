"""A ticket lost with a failed-over Redis primary: the conversation is answered anyway."""

from __future__ import annotations

import pytest

from common import redisconn
from common.messages import ConversationRef, CustomerMessage, CustomerRef, encode_event
from dialogs.echo import EchoDialog
from frontdesk.app import build_gateway, enabled_channels
from frontdesk.config import Settings
from gateway.ingest import Ingest
from gateway.metrics import Metrics
from gateway.store import StoreUnavailable, open_store
from gateway.store.redis import RedisStore, conversation_key, session_key_of
from tests.conftest import API_SECRET
from tests.support.fake_callback import FakeCallback
from tests.support.waiting import until


def event(n: int, user: str = "u-{lost}%") -> CustomerMessage:
    return CustomerMessage(
        event_id=f"lost-{n}",
        conversation=ConversationRef(channel="api", chat_id="c-lost"),
        customer=CustomerRef(channel="api", user_id=user),
        text=f"m{n}",
    )


def test_the_session_key_comes_back_from_its_redis_key() -> None:
    for key in ("api:u-{lost}%", "tel:+14155238886", "web:v-%7B"):
        assert session_key_of(conversation_key(key, "turns")) == key


@pytest.mark.parametrize("kind", ["redis", "cluster"])
async def test_an_inbox_whose_ticket_was_lost_is_answered(
    kind: str, request: pytest.FixtureRequest, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    store_url = request.getfixturevalue(f"{kind}_url")
    store = open_store(store_url)
    assert await Ingest(store, Metrics(), dedup_ttl=60).accept(event(1)) == "accepted"
    # The primary that held the ticket died before passing it on: the inbox holds the event,
    # the stream has no ticket for it.
    client = redisconn.connect(store_url)
    await client.delete("fd:lane:turns")
    await redisconn.close(client)
    assert await store.head("turns", "api:u-{lost}%") is not None
    await store.close()

    settings = Settings.model_validate(
        {
            "store": {"url": store_url},
            "workers": {"lease": 1, "reclaim_idle": 0.2},
            "channels": {"api": {"secret": API_SECRET, "callback_url": url}},
        }
    )
    gateway = build_gateway(settings, dialog=EchoDialog(), channels=enabled_channels(settings))
    await gateway.start()
    try:
        [reply] = await fake.wait_for(1, timeout=30)  # the sweep 10 s after start
        assert reply["in_reply_to"] == "lost-1"
        # An outage, then another lost ticket: swept again once the store answers.
        assert isinstance(gateway.store, RedisStore) and gateway.repair is not None
        await gateway.store.redis.rpush(
            conversation_key("api:u-{lost}%", "turns"), encode_event(event(2))
        )
        # the reply may come while the sweep is still scanning (a cluster's every node): count
        # from the end of that sweep, not from before it
        repair = gateway.repair
        sweeps = await until(lambda: repair.sweeps, what="the first sweep counted")
        gateway.store.outages += 1  # as a failed call counts it
        [_, second] = await fake.wait_for(2, timeout=20)
        assert second["in_reply_to"] == "lost-2"
        assert gateway.repair.sweeps == sweeps + 1
    finally:
        await gateway.stop()


async def test_a_store_that_cannot_be_reached_is_reported_as_unavailable() -> None:
    store = open_store("redis+cluster://127.0.0.1:1")
    with pytest.raises(StoreUnavailable):
        await store.ping()
    await store.close()

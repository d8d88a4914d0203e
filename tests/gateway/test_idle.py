"""``Gateway.idle()`` / ``wait_idle()``: the pipeline is idle only when no turn or send is in
flight and no work ticket waits in any lane, in this process or another sharing the store."""

from __future__ import annotations

import asyncio

import pytest

from channels.console import ConsoleChannel
from common.messages import ConversationRef, CustomerMessage, CustomerRef, OutboundMessage
from dialogs.echo import EchoDialog
from frontdesk.app import build_gateway
from frontdesk.config import Settings
from gateway.runtime import Gateway
from gateway.store import open_store


class HeldChannel(ConsoleChannel):
    """A channel whose sends wait until the test lets them go."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.go = asyncio.Event()
        self.sending = asyncio.Event()
        super().__init__(self.sent.append, name="api")

    async def send(self, message: OutboundMessage) -> str:
        self.sending.set()
        await self.go.wait()
        return await super().send(message)


def message(text: str, user: str = "u-idle") -> CustomerMessage:
    return CustomerMessage(
        event_id=f"idle-{text}",
        conversation=ConversationRef(channel="api", chat_id=user),
        customer=CustomerRef(channel="api", user_id=user),
        text=text,
    )


@pytest.fixture(params=["redis", "memory"])
def store_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    url: str = request.getfixturevalue("redis_url")
    return url


def gateway_for(store_url: str, channel: ConsoleChannel) -> Gateway:
    settings = Settings.model_validate({"store": {"url": store_url}})
    return build_gateway(settings, dialog=EchoDialog(), channels={"api": channel})


async def test_a_send_in_flight_is_not_idle_and_its_end_is(store_url: str) -> None:
    channel = HeldChannel()
    gateway = gateway_for(store_url, channel)
    await gateway.start()
    try:
        assert await gateway.idle()
        await gateway.ingest.accept(message("hello"))
        assert not await gateway.idle()  # a turn waits
        await channel.sending.wait()
        assert not await gateway.idle()  # the reply is being sent
        assert not await gateway.wait_idle(timeout=0)
        channel.go.set()
        assert await gateway.wait_idle(timeout=20)
        assert [m.text for m in channel.sent] == ["echo: hello"]
    finally:
        channel.go.set()
        await gateway.stop()


async def test_a_waiting_ticket_is_not_idle_without_a_worker(store_url: str) -> None:
    channel = HeldChannel()
    gateway = gateway_for(store_url, channel)
    await gateway.start(workers=False)
    try:
        await gateway.ingest.accept(message("nobody takes this"))
        assert not await gateway.idle()
        assert not await gateway.wait_idle(timeout=0.01)
    finally:
        await gateway.stop()


async def test_work_another_process_holds_is_not_idle(redis_url: str) -> None:
    channel = HeldChannel()
    gateway = gateway_for(redis_url, channel)
    other = open_store(redis_url)
    try:
        assert await other.enqueue("api:u-other", "e-1", b"{}", 60)
        [ticket] = await other.next_tickets("turns", "other-process", count=1, block=1)
        assert not await gateway.idle()  # taken, not acknowledged: in progress over there
        await other.ack("turns", ticket.id)
        assert await gateway.idle()
    finally:
        await other.close()
        await gateway.store.close()


async def test_an_observer_never_sees_idle_before_the_reply_is_out(store_url: str) -> None:
    """Checked at every turn of the event loop, idle() stays False from the accept until the
    reply has been sent (a ticket taken off the memory queue once went unseen for a step)."""
    sent: list[OutboundMessage] = []
    gateway = gateway_for(store_url, ConsoleChannel(sent.append, name="api"))
    await gateway.start()
    try:
        early: list[int] = []
        await gateway.ingest.accept(message("watch me"))
        while not sent:
            if await gateway.idle():
                early.append(len(sent))
            await asyncio.sleep(0)
        assert early == []
        assert await gateway.wait_idle(timeout=20)
    finally:
        await gateway.stop()

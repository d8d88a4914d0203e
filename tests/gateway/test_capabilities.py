"""Channel facts live with the adapters: the pipe reads what each adapter declares
(``Capabilities``), so a channel the core has never heard of works as it says."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from channels.base import Capabilities
from channels.console import ConsoleChannel
from channels.registry import known_capabilities
from common.messages import Button, ConversationRef, CustomerMessage, CustomerRef, OutboundMessage
from dialogs.base import Outcome, Reply, SystemEvent, TurnContext
from frontdesk.app import build_gateway
from frontdesk.config import Settings
from gateway.metrics import Metrics
from gateway.sessions import Session
from gateway.store.memory import MemoryStore
from gateway.worker import TurnWorker

OPTIONS = (
    Button(title="Crème brûlée", payload="dessert"),
    Button(title="Coffee", payload="coffee"),
)


class MenuDialog:
    async def respond(
        self, state: Mapping[str, Any], event: CustomerMessage | SystemEvent, context: TurnContext
    ) -> Outcome:
        assert isinstance(event, CustomerMessage)
        if event.button_payload:
            return Outcome(state=dict(state), replies=[Reply(text=f"chose {event.button_payload}")])
        return Outcome(state=dict(state), replies=[Reply(text="Menu?", buttons=OPTIONS)])


class Kiosk(ConsoleChannel):
    """A channel unknown to the core: options shown numbered, a one-hour reply window."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.arrived = asyncio.Event()
        super().__init__(self.record, name="kiosk")
        self.capabilities = {
            "kiosk": Capabilities(label="Kiosk", numbered_options=True, service_window=3600.0)
        }

    def record(self, message: OutboundMessage) -> None:
        self.sent.append(message)
        self.arrived.set()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self.sent) < count:
                self.arrived.clear()
                await self.arrived.wait()


def message(text: str, n: int, channel: str = "kiosk") -> CustomerMessage:
    return CustomerMessage(
        event_id=f"{channel}-{n}",
        conversation=ConversationRef(channel=channel, chat_id="c1"),
        customer=CustomerRef(channel=channel, user_id="u1"),
        text=text,
        received_at=1000.0 + n,
    )


async def test_a_channel_unknown_to_the_core_gets_what_it_declares() -> None:
    kiosk = Kiosk()
    settings = Settings.model_validate({"limits": {"enabled": False}})
    gateway = build_gateway(settings, dialog=MenuDialog(), channels={"kiosk": kiosk})
    await gateway.start()
    try:
        await gateway.ingest.accept(message("hi", 1))
        await gateway.ingest.accept(message("2", 2))  # the number of an option shown numbered
        await kiosk.wait_for(2)
    finally:
        await gateway.stop()
    assert [m.text for m in kiosk.sent] == ["Menu?", "chose coffee"]
    # the window the adapter declared, from the customer's last message
    assert kiosk.sent[0].window_closes_at == 1001.0 + 3600.0
    assert kiosk.sent[1].window_closes_at == 1002.0 + 3600.0


async def test_a_typed_title_picks_an_option_where_buttons_are_native() -> None:
    worker = TurnWorker(
        store=MemoryStore(),
        dialog=MenuDialog(),
        metrics=Metrics(),
        session_ttl=60,
        transcript_limit=50,
        capabilities=known_capabilities(),
    )
    session, _ = await worker.turn(Session(key="k"), message("hi", 1, "telegram"))
    _, out = await worker.turn(session, message("creme brulee!", 2, "telegram"))
    assert [m.text for m in out] == ["chose dessert"]
    _, out = await worker.turn(session, message("2", 3, "telegram"))  # not shown numbered
    assert [m.text for m in out] == ["Menu?"]


def test_every_registered_adapter_declares_a_label_for_each_of_its_channels() -> None:
    known = known_capabilities()
    assert {"telegram", "slack", "sms", "whatsapp", "whatsapp_cloud", "api", "web"} <= set(known)
    assert known["sms"].label == "SMS"
    assert known["whatsapp"].service_window == known["whatsapp_cloud"].service_window == 86400.0
    assert known["sms"].service_window is None

"""SMS and WhatsApp from the same number: one customer, one session, one history."""

from __future__ import annotations

from channels.console import ConsoleChannel
from common.messages import (
    ConversationRef,
    CustomerMessage,
    CustomerRef,
    OutboundMessage,
)
from dialogs.echo import EchoDialog
from frontdesk.app import build_gateway
from frontdesk.config import Settings
from gateway.sessions import decode_entry, decode_session
from tests.support.waiting import drained


class RecordingChannel(ConsoleChannel):
    """A stand-in phone channel: the console adapter, recording what the outbox sends."""

    def __init__(self, name: str) -> None:
        self.sent: list[OutboundMessage] = []
        super().__init__(self.sent.append, name=name)


def message(channel: str, number: str, text: str, name: str) -> CustomerMessage:
    return CustomerMessage(
        event_id=f"{channel}-{text}",
        conversation=ConversationRef(channel=channel, chat_id=number),
        customer=CustomerRef(channel=channel, user_id=number, display_name=name),
        text=text,
    )


async def test_sms_and_whatsapp_from_one_number_share_a_session(redis_url: str) -> None:
    sms, whatsapp = RecordingChannel("sms"), RecordingChannel("whatsapp")
    settings = Settings.model_validate({"store": {"url": redis_url}})
    channels = {"sms": sms, "whatsapp": whatsapp}
    gateway = build_gateway(settings, dialog=EchoDialog(), channels=channels)
    await gateway.start()
    try:
        await gateway.ingest.accept(message("sms", "+1 (415) 523-8886", "by text", "Ann"))
        await gateway.ingest.accept(
            message("whatsapp", "whatsapp:+14155238886", "by whatsapp", "Ann W")
        )
        await drained(gateway)
        # Each reply goes back on the channel it came from ...
        assert [m.text for m in sms.sent] == ["echo: by text"]
        assert [m.text for m in whatsapp.sent] == ["echo: by whatsapp"]
        # ... and both turns are one customer's history.
        stored = await gateway.store.load_session("tel:+14155238886")
        assert stored is not None
        session = decode_session(stored.data)
        assert session.channels == ("sms", "whatsapp")
        assert session.names == {"sms": "Ann", "whatsapp": "Ann W"}
        assert session.dialog["turn"] == 2
        entries = [decode_entry(e) for e in await gateway.store.transcript("tel:+14155238886")]
        assert [(e.channel, e.direction) for e in entries] == [
            ("sms", "in"),
            ("sms", "out"),
            ("whatsapp", "in"),
            ("whatsapp", "out"),
        ]
    finally:
        await gateway.stop()

"""WhatsApp Cloud API webhooks: a ``whatsapp_business_account`` notification into events.

The envelope is ``entry[].changes[].value``; ``value.messages[]`` are the customers' messages
and ``value.statuses[]`` the delivery receipts of ours. One POST may carry several of each, and
every one becomes its own event (a message is keyed by its ``wamid``, a receipt by
``<wamid>:<status>``, so re-deliveries are dropped by ingest).

Media arrive as Graph media ids, not URLs: an attachment's ``url`` is the stable Graph
reference ``{api_base_url}/{media_id}``. A GET on it with the access token answers the
short-lived download URL (``{"url": …, "mime_type": …}``), which again needs the token.

Text, media (with caption), location, interactive button and list replies (the row or button id
is the payload) and template quick replies are answered; reactions, unsupported and system
messages are acknowledged and dropped. A reply's ``context`` (the message it quotes) is not
kept: the normalised message has no place for it, and the bot answers the text either way.
"""

from __future__ import annotations

from typing import Any, Literal

from channels.base import WebhookRejected, load_json
from common.identity import to_e164
from common.logging import get_logger
from common.messages import (
    Attachment,
    ConversationRef,
    CustomerMessage,
    CustomerRef,
    DeliveryStatus,
    InboundEvent,
    Location,
)

CHANNEL = "whatsapp_cloud"
_MEDIA_KINDS: dict[str, Literal["image", "audio", "video", "file", "sticker"]] = {
    "image": "image",
    "document": "file",
    "audio": "audio",
    "video": "video",
    "sticker": "sticker",
}
_STATUSES: dict[str, Literal["sent", "delivered", "read", "failed"]] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
}
Json = dict[str, Any]


def load_notification(body: bytes) -> Json:
    """The decoded notification; WebhookRejected(400) unless it is a WhatsApp one."""
    data = load_json(body)
    if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
        raise WebhookRejected(400, "not a whatsapp_business_account notification")
    if not isinstance(data.get("entry"), list):
        raise WebhookRejected(400, "notification without an entry list")
    return data


def _objects(container: Json, name: str) -> list[Json]:
    value = container.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise WebhookRejected(400, f"{name!r} must be a list of objects")
    return value


def _phone(wa_id: str) -> str:
    """A WhatsApp id is the number's digits without ``+``: E.164 where it parses."""
    try:
        return to_e164("+" + wa_id.lstrip("+"))
    except ValueError:
        return "+" + wa_id.lstrip("+")


def _str(data: Json, name: str) -> str | None:
    value = data.get(name)
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


class NotificationParser:
    """Turns a verified notification into events; ``media_base`` prefixes media ids."""

    def __init__(self, media_base: str) -> None:
        self.media_base = media_base.rstrip("/")
        self.log = get_logger(channel=CHANNEL)

    def events(self, data: Json) -> list[InboundEvent]:
        events: list[InboundEvent] = []
        for entry in _objects(data, "entry"):
            for change in _objects(entry, "changes"):
                value = change.get("value")
                if not isinstance(value, dict):
                    continue  # other fields (account updates) carry no conversation
                names = self._names(_objects(value, "contacts"))
                for message in _objects(value, "messages"):
                    event = self.message(message, names)
                    if event is not None:
                        events.append(event)
                for status in _objects(value, "statuses"):
                    receipt = self.status(status)
                    if receipt is not None:
                        events.append(receipt)
        return events

    @staticmethod
    def _names(contacts: list[Json]) -> dict[str, str]:
        names: dict[str, str] = {}
        for contact in contacts:
            profile = contact.get("profile")
            wa_id = _str(contact, "wa_id")
            if wa_id and isinstance(profile, dict) and isinstance(profile.get("name"), str):
                names[wa_id] = profile["name"]
        return names

    def message(self, message: Json, names: dict[str, str]) -> CustomerMessage | None:
        sender, wamid = _str(message, "from"), _str(message, "id")
        kind = message.get("type")
        if not sender or not wamid:
            raise WebhookRejected(400, "message without 'from' or 'id'")
        if not isinstance(kind, str):
            raise WebhookRejected(400, "message 'type' must be a string")
        phone = _phone(sender)
        content = message.get(kind)
        content = content if isinstance(content, dict) else {}
        text, payload = "", None
        attachments: tuple[Attachment, ...] = ()
        location = None
        if kind == "text":
            text = _str(content, "body") or ""
        elif kind in _MEDIA_KINDS:
            attachments = (self._attachment(_MEDIA_KINDS[kind], content),)
            text = _str(content, "caption") or ""
        elif kind == "location":
            location = self._location(content)
        elif kind == "interactive":
            reply = content.get(str(content.get("type")))
            if not isinstance(reply, dict) or not _str(reply, "id"):
                self.log.info("whatsapp_dropped", type="interactive", reason="no reply id")
                return None
            payload, text = _str(reply, "id"), _str(reply, "title") or ""
        elif kind == "button":  # a template's quick-reply button
            payload, text = _str(content, "payload"), _str(content, "text") or ""
        else:  # reactions, unsupported, system, order, contacts…: nothing to answer
            self.log.info("whatsapp_dropped", type=kind)
            return None
        return CustomerMessage(
            event_id=wamid,
            conversation=ConversationRef(channel=CHANNEL, chat_id=phone),
            customer=CustomerRef(
                channel=CHANNEL, user_id=phone, display_name=names.get(sender), phone=phone
            ),
            text=text,
            attachments=attachments,
            location=location,
            button_payload=payload,
        )

    def _attachment(
        self, kind: Literal["image", "audio", "video", "file", "sticker"], media: Json
    ) -> Attachment:
        media_id = _str(media, "id")
        if not media_id:
            raise WebhookRejected(400, f"{kind} without a media id")
        return Attachment(
            kind=kind,
            url=f"{self.media_base}/{media_id}",
            mime_type=_str(media, "mime_type"),
            name=_str(media, "filename"),
        )

    @staticmethod
    def _location(content: Json) -> Location:
        try:
            latitude, longitude = float(content["latitude"]), float(content["longitude"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise WebhookRejected(400, "location without coordinates") from None
        # Location rejects what is not finite or off the globe ("1e999", nan): 400.
        return Location(
            latitude=latitude,
            longitude=longitude,
            name=_str(content, "name"),
            address=_str(content, "address"),
        )

    def status(self, status: Json) -> DeliveryStatus | None:
        wamid, recipient = _str(status, "id"), _str(status, "recipient_id")
        state = _STATUSES.get(str(status.get("status")))
        if not wamid or not recipient:
            raise WebhookRejected(400, "status without 'id' or 'recipient_id'")
        if state is None:  # "deleted", "warning"…: no delivery state of ours
            self.log.info("whatsapp_status_dropped", status=status.get("status"))
            return None
        phone = _phone(recipient)
        return DeliveryStatus(
            event_id=f"{wamid}:{state}",
            conversation=ConversationRef(channel=CHANNEL, chat_id=phone),
            customer=CustomerRef(channel=CHANNEL, user_id=phone, phone=phone),
            platform_message_id=wamid,
            status=state,
            error=self._error(_objects(status, "errors")) if state == "failed" else None,
        )

    @staticmethod
    def _error(errors: list[Json]) -> str | None:
        if not errors:
            return None
        first = errors[0]
        code, title = _str(first, "code"), _str(first, "title") or _str(first, "message")
        return " ".join(filter(None, [f"({code})" if code else None, title])) or None

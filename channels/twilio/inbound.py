"""Twilio webhooks in (pure): the signature check and the parsing of inbound messages (SMS,
MMS, WhatsApp) and delivery status callbacks into normalised events.

Twilio signs ``X-Twilio-Signature`` over the URL it called and the POST parameters. Behind a
proxy that terminates TLS the request reaches us on another scheme and host, so the URL is
rebuilt from ``server.public_url`` and the request's path (and query string).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qsl, urlencode

from multidict import MultiDict
from twilio.request_validator import RequestValidator

from channels.base import WebhookRejected, WebhookRequest
from channels.twilio.codes import describe
from common.identity import to_e164
from common.messages import (
    Attachment,
    ConversationRef,
    CustomerMessage,
    CustomerRef,
    DeliveryStatus,
    InboundEvent,
    Location,
)

SIGNATURE_HEADER = "X-Twilio-Signature"
WHATSAPP_PREFIX = "whatsapp:"

Params = MultiDict[str]
Control = Literal["opt_out", "opt_in", "help"]
AttachmentKind = Literal["image", "audio", "video", "file", "sticker"]
MEDIA_KINDS: dict[str, AttachmentKind] = {"image": "image", "audio": "audio", "video": "video"}

# Twilio's default SMS keywords (exact word, any case). Twilio itself answers STOP/START/HELP
# on long codes and blocks sends to an opted-out number (error 21610); we keep the same state
# so that the bot stays silent, and so that it holds with Advanced Opt-Out or short codes.
KEYWORDS: dict[str, Control] = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), "opt_out"),
    **dict.fromkeys(("START", "YES", "UNSTOP"), "opt_in"),
    **dict.fromkeys(("HELP", "INFO"), "help"),
}
# Twilio's OptOutType parameter (Advanced Opt-Out: the Messaging Service's own keywords).
OPT_OUT_TYPES: dict[str, Control] = {"STOP": "opt_out", "START": "opt_in", "HELP": "help"}

# Delivery states kept; the others (queued, sending, sent, accepted, scheduled, canceled, ...)
# are acknowledged and dropped: "sent" only says Twilio handed the message to the carrier,
# which a successful send already says, and would double the transcript for every reply.
StatusName = Literal["sent", "delivered", "read", "failed", "undelivered"]
KEPT_STATUSES: dict[str, StatusName] = {
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "undelivered": "undelivered",
}


def form_params(body: bytes) -> Params:
    """The POST parameters of a form body, repeated keys kept."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(400, "body is not UTF-8") from None
    return MultiDict(parse_qsl(text, keep_blank_values=True))


def public_request_url(public_url: str, request: WebhookRequest) -> str:
    """The URL Twilio called, as the platform sees it (not as the proxy forwarded it)."""
    url = public_url.rstrip("/") + request.path
    if request.query:
        url += "?" + urlencode(list(request.query.items()))
    return url


def verify_signature(validator: RequestValidator, public_url: str, request: WebhookRequest) -> None:
    """401 without a signature, 403 with a wrong one. The SDK's validator compares in
    constant time and accepts the URL with or without its default port."""
    signature = request.header(SIGNATURE_HEADER)
    if not signature:
        raise WebhookRejected(401, f"missing {SIGNATURE_HEADER}")
    try:
        params = form_params(request.body)
    except WebhookRejected:
        raise WebhookRejected(403, f"bad {SIGNATURE_HEADER}") from None
    if not validator.validate(public_request_url(public_url, request), params, signature):
        raise WebhookRejected(403, f"bad {SIGNATURE_HEADER}")


def _required(params: Params, name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise WebhookRejected(400, f"missing parameter {name!r}")
    return value


def _address(raw: str) -> tuple[str, str, str | None] | None:
    """(conversation channel, number, E.164 or None) of a Twilio address; None for a channel
    we do not serve (``messenger:``, ``rcs:``, ...)."""
    if raw.startswith(WHATSAPP_PREFIX):
        channel, number = "whatsapp", raw[len(WHATSAPP_PREFIX) :]
    elif ":" in raw:
        return None
    else:
        channel, number = "sms", raw
    try:
        e164: str | None = to_e164(number)
    except ValueError:
        e164 = None  # a short code or an alphanumeric sender: kept as it came
    return channel, e164 or number, e164


def _kind(mime_type: str | None, message_type: str) -> AttachmentKind:
    if message_type == "sticker":
        return "sticker"
    major = (mime_type or "").partition("/")[0]
    return MEDIA_KINDS.get(major, "file")


def _attachments(params: Params) -> tuple[Attachment, ...]:
    try:
        count = int(params.get("NumMedia", "0") or "0")
    except ValueError:
        raise WebhookRejected(400, "NumMedia is not a number") from None
    message_type = params.get("MessageType", "")
    found = []
    for i in range(max(0, min(count, 10))):
        url = params.get(f"MediaUrl{i}")
        if not url:
            continue
        mime = params.get(f"MediaContentType{i}") or None
        found.append(Attachment(kind=_kind(mime, message_type), url=url, mime_type=mime))
    return tuple(found)


def _location(params: Params) -> Location | None:
    latitude, longitude = params.get("Latitude"), params.get("Longitude")
    if not latitude or not longitude:
        return None
    try:
        return Location(
            latitude=float(latitude),
            longitude=float(longitude),
            name=params.get("Label") or None,
            address=params.get("Address") or None,
        )
    except ValueError:
        # float() refuses words; Location refuses inf, nan and what is off the globe.
        raise WebhookRejected(400, "Latitude/Longitude must be finite coordinates") from None


def keyword_control(channel: str, body: str, opt_out_type: str | None) -> Control | None:
    """STOP/START/HELP: Twilio's OptOutType when present; else, on SMS only, the body as one
    keyword (exact word, any case). WhatsApp has no carrier keywords: there "stop" is text."""
    if opt_out_type:
        return OPT_OUT_TYPES.get(opt_out_type.strip().upper())
    if channel != "sms":
        return None
    return KEYWORDS.get(body.strip().strip(".!").strip().upper())


def parse_message(params: Params) -> list[InboundEvent]:
    """An inbound SMS, MMS or WhatsApp message."""
    sid = _required(params, "MessageSid")
    address = _address(_required(params, "From"))
    if address is None:
        return []
    channel, number, e164 = address
    body = params.get("Body", "")
    attachments = _attachments(params)
    location = _location(params)
    payload = params.get("ButtonPayload") or None
    if not (body.strip() or attachments or location or payload):
        return []  # nothing the customer said (an unsupported WhatsApp message type)
    return [
        CustomerMessage(
            event_id=sid,
            conversation=ConversationRef(channel=channel, chat_id=number),
            customer=CustomerRef(
                channel=channel,
                user_id=number,
                display_name=params.get("ProfileName") or None,
                phone=e164,
            ),
            text=body or params.get("ButtonText", ""),
            attachments=attachments,
            location=location,
            button_payload=payload,
            control=keyword_control(channel, body, params.get("OptOutType")),
        )
    ]


def parse_status(params: Params) -> list[InboundEvent]:
    """A status callback for a message we sent; one event per state, deduped separately."""
    sid = _required(params, "MessageSid")
    status = params.get("MessageStatus") or _required(params, "SmsStatus")
    address = _address(_required(params, "To"))  # the customer: we sent to them
    state = KEPT_STATUSES.get(status)
    if address is None or state is None:
        return []
    channel, number, e164 = address
    error_code = params.get("ErrorCode") or None
    return [
        DeliveryStatus(
            event_id=f"{sid}:{status}",
            conversation=ConversationRef(channel=channel, chat_id=number),
            customer=CustomerRef(channel=channel, user_id=number, phone=e164),
            platform_message_id=sid,
            status=state,
            error=describe(error_code) if error_code else None,
        )
    ]

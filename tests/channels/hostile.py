"""Every webhook adapter, configured, with the platform's own way of signing a body: what the
hostile-input tests and the fuzz suite post (at the adapter level or through the real app)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

from channels.api import ApiChannel, sign
from channels.base import Channel, WebhookRequest
from channels.settings import TwilioSettings
from channels.slack import SlackChannel
from channels.telegram import TelegramChannel
from channels.telegram.parse import BotIdentity
from channels.twilio import TwilioChannel
from channels.whatsapp.adapter import WhatsAppCloudChannel, signature_for

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"
DEAD_URL = "http://127.0.0.1:9"  # nothing listens: the adapters are never asked to send
API_SECRET = "fuzz-api-secret"
TELEGRAM_SECRET = "fuzz-telegram-secret"
SLACK_SECRET = "fuzz-slack-secret"
TWILIO_TOKEN = "fuzz-twilio-token"
WHATSAPP_SECRET = "fuzz-whatsapp-secret"
PUBLIC_URL = "https://gateway.example.com"
HANDOFF_CHANNEL = "C111"  # the Slack fixtures' channel: agents' events


@dataclass(frozen=True, slots=True)
class Target:
    """One webhook route: its adapter, and how its platform signs a body for it."""

    name: str
    adapter: Channel
    path: str
    content_type: str
    sign: Callable[[bytes], dict[str, str]]

    def request(self, body: bytes, headers: dict[str, str] | None = None) -> WebhookRequest:
        if headers is None:
            headers = {"content-type": self.content_type, **self.sign(body)}
        merged = {k.lower(): v for k, v in headers.items()}
        return WebhookRequest(method="POST", path=self.path, headers=merged, body=body)


def _slack_headers(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=timestamp, body=body)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


def _twilio_headers(path: str) -> Callable[[bytes], dict[str, str]]:
    def headers(body: bytes) -> dict[str, str]:
        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            params = {}
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + path, params)
        return {"X-Twilio-Signature": signature}

    return headers


def targets() -> dict[str, Target]:
    """Fresh adapters for every webhook route (Telegram knows its bot: no getMe needed)."""
    telegram = TelegramChannel(
        token="123:fuzz",
        secret_token=TELEGRAM_SECRET,
        api_base_url=DEAD_URL,
        bot_identity=BotIdentity(id=123456789, username="test_bot"),
    )
    slack = SlackChannel(
        bot_token="xoxb-fuzz", signing_secret=SLACK_SECRET, api_base_url=DEAD_URL + "/api/"
    )
    agents = SlackChannel(
        bot_token="xoxb-fuzz",
        signing_secret=SLACK_SECRET,
        api_base_url=DEAD_URL + "/api/",
        handoff_channel=HANDOFF_CHANNEL,
    )
    twilio = TwilioChannel(
        TwilioSettings(
            account_sid="AC" + "0" * 32,
            auth_token=TWILIO_TOKEN,
            sms_number="+15555550100",
            api_base_url=DEAD_URL,
        ),
        public_url=PUBLIC_URL,
    )
    whatsapp = WhatsAppCloudChannel(
        access_token="EAAfuzz",
        app_secret=WHATSAPP_SECRET,
        verify_token="fuzz-verify",
        phone_number_id="1122334455667",
        api_base_url=DEAD_URL,
    )
    api = ApiChannel(secret=API_SECRET, callback_url=DEAD_URL)
    json_type, form_type = "application/json", "application/x-www-form-urlencoded"
    return {
        "api": Target("api", api, "/webhooks/api", json_type, _api_headers),
        "telegram": Target(
            "telegram",
            telegram,
            "/webhooks/telegram",
            json_type,
            lambda body: {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        ),
        "slack_events": Target("slack_events", slack, "/webhooks/slack", json_type, _slack_headers),
        "slack_forms": Target("slack_forms", slack, "/webhooks/slack", form_type, _slack_headers),
        "slack_agents": Target(
            "slack_agents", agents, "/webhooks/slack", json_type, _slack_headers
        ),
        "twilio": Target(
            "twilio", twilio, "/webhooks/twilio", form_type, _twilio_headers("/webhooks/twilio")
        ),
        "twilio_status": Target(
            "twilio_status",
            twilio,
            "/webhooks/twilio/status",
            form_type,
            _twilio_headers("/webhooks/twilio/status"),
        ),
        "whatsapp": Target(
            "whatsapp",
            whatsapp,
            "/webhooks/whatsapp",
            json_type,
            lambda body: {"X-Hub-Signature-256": signature_for(WHATSAPP_SECRET, body)},
        ),
    }


def _api_headers(body: bytes) -> dict[str, str]:
    return {"X-Frontdesk-Signature": sign(API_SECRET, body)}

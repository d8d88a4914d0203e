"""Which channels are on: one line per platform adapter.

A channel without credentials is off, and the log says so once.
"""

from __future__ import annotations

from collections.abc import Callable

from channels.api import ApiChannel
from channels.base import Channel
from channels.slack import SlackChannel
from channels.telegram import TelegramChannel
from channels.twilio import TwilioChannel
from channels.web import WebChannel
from channels.whatsapp import WhatsAppCloudChannel
from gateway.config import Settings
from gateway.logging import get_logger

Factory = Callable[[Settings], Channel | None]


def _api(settings: Settings) -> Channel | None:
    api = settings.channels.api
    if not api.secret:
        return None
    return ApiChannel(
        secret=api.secret, callback_url=api.callback_url, timeout=settings.outbox.timeout
    )


def _slack(settings: Settings) -> Channel | None:
    slack = settings.channels.slack
    if not slack.bot_token:
        return None
    return SlackChannel(
        bot_token=slack.bot_token,
        signing_secret=slack.signing_secret,  # required by config when bot_token is set
        api_base_url=slack.api_base_url,
        handoff_channel=settings.handoff.slack_channel,
        timeout=settings.outbox.timeout,
    )


def _telegram(settings: Settings) -> Channel | None:
    telegram = settings.channels.telegram
    if not telegram.token:
        return None
    return TelegramChannel.from_settings(telegram, timeout=settings.outbox.timeout)


def _twilio(settings: Settings) -> Channel | None:
    twilio = settings.channels.twilio
    if not twilio.account_sid:
        return None
    return TwilioChannel(
        twilio, public_url=settings.server.public_url, timeout=settings.outbox.timeout
    )


def _whatsapp_cloud(settings: Settings) -> Channel | None:
    whatsapp = settings.channels.whatsapp
    if not whatsapp.access_token:
        return None
    return WhatsAppCloudChannel.from_settings(whatsapp, timeout=settings.outbox.timeout)


FACTORIES: dict[str, Factory] = {
    "api": _api,
    "slack": _slack,
    "telegram": _telegram,
    "twilio": _twilio,  # the "sms" and "whatsapp" conversation channels
    "whatsapp_cloud": _whatsapp_cloud,
    "web": WebChannel.from_settings,  # the website chat; needs a token secret with redis://
}


def enabled_channels(settings: Settings) -> dict[str, Channel]:
    """The enabled adapters by the conversation channel they send for."""
    channels: dict[str, Channel] = {}
    log = get_logger()
    for name, factory in FACTORIES.items():
        channel = factory(settings)
        if channel is None:
            log.info("channel_off", channel=name, reason="no credentials configured")
        else:
            channels.update({name: channel for name in channel.conversation_channels})
    return channels

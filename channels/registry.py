"""Which channels are on: one line per platform adapter.

A channel without credentials is off, and the log says so once. Each factory gets the
``channels`` settings and the few facts of its surroundings (:class:`Host`) the composition
root passes down; nothing here reads the rest of the configuration.
"""

from __future__ import annotations

from collections.abc import Callable

from channels.api import ApiChannel
from channels.base import Capabilities, Channel, Host
from channels.settings import ChannelSettings
from channels.slack import SlackChannel
from channels.telegram import TelegramChannel
from channels.twilio import TwilioChannel
from channels.web import WebChannel
from channels.whatsapp import WhatsAppCloudChannel
from common.logging import get_logger

Factory = Callable[[ChannelSettings, Host], Channel | None]


def _api(channels: ChannelSettings, host: Host) -> Channel | None:
    api = channels.api
    if not api.secret:
        return None
    return ApiChannel(secret=api.secret, callback_url=api.callback_url, timeout=host.timeout)


def _slack(channels: ChannelSettings, host: Host) -> Channel | None:
    slack = channels.slack
    if not slack.bot_token:
        return None
    return SlackChannel(
        bot_token=slack.bot_token,
        signing_secret=slack.signing_secret,  # required by config when bot_token is set
        api_base_url=slack.api_base_url,
        handoff_channel=host.agents_channel,
        timeout=host.timeout,
    )


def _telegram(channels: ChannelSettings, host: Host) -> Channel | None:
    telegram = channels.telegram
    if not telegram.token:
        return None
    return TelegramChannel.from_settings(telegram, timeout=host.timeout)


def _twilio(channels: ChannelSettings, host: Host) -> Channel | None:
    twilio = channels.twilio
    if not twilio.account_sid:
        return None
    return TwilioChannel(twilio, public_url=host.public_url, timeout=host.timeout)


def _whatsapp_cloud(channels: ChannelSettings, host: Host) -> Channel | None:
    whatsapp = channels.whatsapp
    if not whatsapp.access_token:
        return None
    return WhatsAppCloudChannel.from_settings(whatsapp, timeout=host.timeout)


def _web(channels: ChannelSettings, host: Host) -> Channel | None:
    return WebChannel.from_settings(channels.web, host)


FACTORIES: dict[str, Factory] = {
    "api": _api,
    "slack": _slack,
    "telegram": _telegram,
    "twilio": _twilio,  # the "sms" and "whatsapp" conversation channels
    "whatsapp_cloud": _whatsapp_cloud,
    "web": _web,  # the website chat; needs a token secret with redis://
}


def known_capabilities() -> dict[str, Capabilities]:
    """Every registered adapter's declared capabilities, by conversation channel (for tools
    and tests that run the pipe without building adapters)."""
    adapters = (ApiChannel, SlackChannel, TelegramChannel, TwilioChannel, WebChannel)
    found = {name: c for adapter in adapters for name, c in adapter.capabilities.items()}
    return found | dict(WhatsAppCloudChannel.capabilities)


def enabled_channels(settings: ChannelSettings, host: Host) -> dict[str, Channel]:
    """The enabled adapters by the conversation channel they send for."""
    channels: dict[str, Channel] = {}
    log = get_logger()
    for name, factory in FACTORIES.items():
        channel = factory(settings, host)
        if channel is None:
            log.info("channel_off", channel=name, reason="no credentials configured")
        else:
            channels.update({name: channel for name in channel.conversation_channels})
    return channels

"""The ``channels`` section of ``config.yml``: one sub-section per platform adapter."""

from __future__ import annotations

from typing import Literal

from channels.web.settings import WebChannelSettings
from common.settings import Section


class ApiChannelSettings(Section):
    secret: str = ""
    callback_url: str = ""

    def requirements(self) -> list[tuple[str, str]]:
        if self.secret and not self.callback_url:
            return [("callback_url", "required when channels.api.secret is set")]
        return []


class TelegramSettings(Section):
    token: str = ""
    secret_token: str = ""
    api_base_url: str = "https://api.telegram.org"
    mode: Literal["webhook", "polling"] = "webhook"

    def requirements(self) -> list[tuple[str, str]]:
        if self.token and self.mode == "webhook" and not self.secret_token:
            return [
                ("secret_token", "required in webhook mode when channels.telegram.token is set")
            ]
        return []


class SlackSettings(Section):
    bot_token: str = ""
    signing_secret: str = ""
    api_base_url: str = "https://slack.com/api/"

    def requirements(self) -> list[tuple[str, str]]:
        if self.bot_token and not self.signing_secret:
            return [("signing_secret", "required when channels.slack.bot_token is set")]
        return []


class TwilioSettings(Section):
    account_sid: str = ""
    auth_token: str = ""
    sms_number: str = ""
    whatsapp_number: str = ""
    messaging_service_sid: str = ""  # send through a Messaging Service instead of a number
    whatsapp_template_sid: str = ""  # Content SID sent when the 24-hour window is closed
    help_text: str = "You are talking to our assistant. Reply STOP to opt out, START to opt in."
    api_base_url: str = "https://api.twilio.com"

    def requirements(self) -> list[tuple[str, str]]:
        if self.account_sid and not self.auth_token:
            return [("auth_token", "required when channels.twilio.account_sid is set")]
        return []


class WhatsAppSettings(Section):
    access_token: str = ""
    app_secret: str = ""
    verify_token: str = ""
    phone_number_id: str = ""
    template_name: str = ""  # approved template sent when the 24-hour window is closed
    template_language: str = "en_US"
    api_base_url: str = "https://graph.facebook.com/v21.0"

    def requirements(self) -> list[tuple[str, str]]:
        if not self.access_token:
            return []
        return [
            (name, "required when channels.whatsapp.access_token is set")
            for name in ("app_secret", "verify_token", "phone_number_id")
            if not getattr(self, name)
        ]


class ChannelSettings(Section):
    api: ApiChannelSettings = ApiChannelSettings()
    telegram: TelegramSettings = TelegramSettings()
    slack: SlackSettings = SlackSettings()
    twilio: TwilioSettings = TwilioSettings()
    whatsapp: WhatsAppSettings = WhatsAppSettings()
    web: WebChannelSettings = WebChannelSettings()

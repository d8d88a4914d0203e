"""``frontdesk telegram set-webhook``: register the gateway's webhook with Telegram.

Telegram is told ``server.public_url`` + ``/webhooks/telegram``, the secret it must send back
in ``X-Telegram-Bot-Api-Secret-Token`` (``channels.telegram.secret_token``) and the update
types the adapter understands.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import Any

from telegram.error import TelegramError

from channels.telegram import ALLOWED_UPDATES, WEBHOOK_PATH, make_bot
from common.settings import ConfigError
from frontdesk.config import Settings


class WebhookSetupError(Exception):
    """The settings cannot register a webhook, or Telegram refused it."""


@dataclass(frozen=True, slots=True)
class WebhookRegistration:
    url: str
    allowed_updates: tuple[str, ...]


def webhook_url(settings: Settings) -> str:
    return settings.server.public_url.rstrip("/") + WEBHOOK_PATH


async def set_webhook(
    settings: Settings, *, drop_pending_updates: bool = False
) -> WebhookRegistration:
    """Call ``setWebhook``; raise WebhookSetupError with Telegram's reason if it fails."""
    telegram = settings.channels.telegram
    if not telegram.token:
        raise WebhookSetupError("channels.telegram.token is not set")
    if not telegram.secret_token:
        raise WebhookSetupError("channels.telegram.secret_token is not set")
    url = webhook_url(settings)
    if not url.startswith("https://"):
        raise WebhookSetupError(f"Telegram only calls https:// URLs; server.public_url is {url}")
    bot, close = make_bot(telegram.token, telegram.api_base_url, settings.outbox.timeout)
    try:
        await bot.set_webhook(
            url=url,
            secret_token=telegram.secret_token,
            allowed_updates=list(ALLOWED_UPDATES),
            drop_pending_updates=drop_pending_updates,
        )
    except TelegramError as exc:
        raise WebhookSetupError(f"Telegram refused the webhook: {exc.message}") from exc
    finally:
        await close()
    return WebhookRegistration(url=url, allowed_updates=ALLOWED_UPDATES)


def cmd_set_webhook(args: argparse.Namespace) -> int:
    from frontdesk.config import load_cli_settings

    try:
        settings = load_cli_settings(args.config)
        done = asyncio.run(set_webhook(settings, drop_pending_updates=args.drop_pending_updates))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except WebhookSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if settings.channels.telegram.mode == "polling":
        print("note: channels.telegram.mode is polling; polling deletes this webhook on start")
    print(f"webhook set: {done.url} (updates: {', '.join(done.allowed_updates)})")
    return 0


def add_commands(subparsers: Any) -> None:
    """Add ``telegram set-webhook`` to the ``frontdesk`` command line."""
    telegram = subparsers.add_parser("telegram", help="Telegram bot setup")
    commands = telegram.add_subparsers(dest="telegram_command", required=True)
    hook = commands.add_parser(
        "set-webhook",
        help="register server.public_url/webhooks/telegram with Telegram, with the secret token",
    )
    hook.add_argument(
        "--config", default=None, help="configuration file (default: ./config.yml if present)"
    )
    hook.add_argument(
        "--drop-pending-updates",
        action="store_true",
        help="discard updates Telegram queued while no webhook was reachable",
    )
    hook.set_defaults(func=cmd_set_webhook)

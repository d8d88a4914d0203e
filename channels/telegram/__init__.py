"""Telegram: the Bot API adapter (webhook or long polling), sending through python-telegram-bot.

- :mod:`.parse`: ``Update`` JSON to normalised events (pure)
- :mod:`.render`: text parts, inline keyboards, callback data
- :mod:`.errors`: PTB exceptions classified for the outbox
- :mod:`.polling`: the ``getUpdates`` loop
- :mod:`.adapter`: the :class:`TelegramChannel` tying them together
"""

from channels.telegram.adapter import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel, make_bot
from channels.telegram.parse import ALLOWED_UPDATES, FILE_URL_PREFIX, BotIdentity

__all__ = [
    "ALLOWED_UPDATES",
    "FILE_URL_PREFIX",
    "SECRET_HEADER",
    "WEBHOOK_PATH",
    "BotIdentity",
    "TelegramChannel",
    "make_bot",
]

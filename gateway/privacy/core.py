"""Customer data requests: find, export and erase everything stored about one customer.

What the gateway keeps about a customer is spread over several key families (the session and
its transcript, pending inbound and outbound items, handoff cards and thread maps, dead letters,
the website chat's log). Each family is a *customer data source* with ``export`` and ``erase``;
:data:`SOURCES` is the registry, and a new store that keeps customer data (e.g. a review inbox)
calls :func:`register` so export and erase cover it too. Sources read the shared Redis store:
the in-process memory store lives only inside the running gateway.

Erasure holds both conversation locks of each of the customer's keys (the lanes' own fencing),
so a turn or a send in progress finishes first and nothing is processed half-erased; it then
records that it happened (a keyed hash of the customer, the time and the counts removed) without
keeping any of the data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from common.identity import PHONE_CHANNELS, to_e164
from gateway.store.redis import conversation_key

ERASURES = "fd:privacy:erasures"  # stream of erasure records (no personal data)
SALT_KEY = "fd:privacy:salt"  # per-installation salt when FRONTDESK_ERASURE_SALT is not set
SALT_ENV = "FRONTDESK_ERASURE_SALT"
_PHONE_LIKE = re.compile(r"[+\d\s().-]+")
ERASURES_MAXLEN = 100_000


@dataclass(frozen=True, slots=True)
class Customer:
    """One person: the id asked about and every session key that may hold their data."""

    asked: str
    keys: tuple[str, ...]

    @property
    def canonical(self) -> str:
        return self.keys[0]


def resolve(customer_id: str) -> Customer:
    """Every session key of ``customer_id``: a ``tel:+E164`` customer (SMS, WhatsApp through
    Twilio, WhatsApp Cloud) from a phone number in any common format or a channel-specific id
    (``sms:…``, ``whatsapp:+…``, ``whatsapp_cloud:…``); a session key (``api:user``,
    ``telegram:42``, ``web:v-…``) as given; a website chat conversation (``v-…``/``u-…``)."""
    raw = customer_id.strip()
    if not raw:
        raise ValueError("an empty customer id")
    channel, _, rest = raw.partition(":")
    phone: str | None = None
    if channel == "tel" or channel in PHONE_CHANNELS:
        phone = rest
    elif _PHONE_LIKE.fullmatch(raw) and sum(c.isdigit() for c in raw) >= 7:
        phone = raw
    if phone is not None:
        if phone.startswith("00"):
            phone = "+" + phone[2:]
        digits_first = phone.lstrip("( ").startswith(("+", "whatsapp:"))
        try:
            e164 = to_e164(phone if digits_first else "+" + phone)
        except ValueError:
            e164 = None
        if e164 is not None:
            alternates = [f"{ch}:{e164}" for ch in sorted(PHONE_CHANNELS)]
            alternates += [f"{ch}:{e164[1:]}" for ch in sorted(PHONE_CHANNELS)]
            keys = [f"tel:{e164}", *alternates]
            if raw not in keys:
                keys.append(raw)
            return Customer(asked=raw, keys=tuple(keys))
    if raw.startswith(("v-", "u-")):
        return Customer(asked=raw, keys=(f"web:{raw}",))
    return Customer(asked=raw, keys=(raw,))


@dataclass(frozen=True, slots=True)
class Context:
    """What a source works with: the Redis client (decoded replies are bytes), and the
    customer's conversation keys (``fd:{<key>}:…``), found by one SCAN and shared."""

    redis: Any
    _found: dict[str, list[str]] = field(default_factory=dict)

    async def conversation_keys(self, customer: Customer, key: str) -> list[str]:
        """The ``fd:{<key>}:…`` keys of one of ``customer.keys`` (fresh on first call)."""
        if not self._found:
            found: dict[str, list[str]] = {k: [] for k in customer.keys}
            prefixes = {conversation_key(k, ""): k for k in customer.keys}
            for name in await scan(self.redis, _pattern(customer)):
                owner = prefixes.get(name[: name.find("}:") + 2])
                if owner is not None:
                    found[owner].append(name)
            self._found.update(found)
        return self._found.get(key, [])

    def forget(self) -> None:
        self._found.clear()


def _pattern(customer: Customer) -> str:
    """One SCAN pattern matching every key of the customer's conversations: their common
    suffix (a phone customer's keys all end in the number's digits), filtered exactly after."""
    tags = [conversation_key(k, "")[len("fd:{") : -len("}:")] for k in customer.keys]
    common = tags[0]
    for tag in tags[1:]:
        while not tag.endswith(common):
            common = common[1:]
    lead = "" if all(t == common for t in tags) else "*"
    return "fd:{" + lead + glob_escape(common) + "}:*"


class CustomerDataSource(Protocol):
    name: str

    async def export(self, ctx: Context, customer: Customer) -> Any:
        """JSON-ready data about ``customer`` (empty list/dict/None when there is none)."""

    async def erase(self, ctx: Context, customer: Customer) -> int:
        """Remove it all; the number of items (keys, entries) removed."""


SOURCES: list[CustomerDataSource] = []


def register(source: CustomerDataSource) -> CustomerDataSource:
    """Add a source to the registry (a second source of the same name replaces the first)."""
    SOURCES[:] = [s for s in SOURCES if s.name != source.name]
    SOURCES.append(source)
    return source


def glob_escape(text: str) -> str:
    """``text`` matched literally by a Redis SCAN/KEYS glob."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


async def scan(redis: Any, pattern: str) -> list[str]:
    return sorted([_s(k) async for k in redis.scan_iter(match=pattern, count=5000)])


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _json(value: bytes | str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return _s(value)


async def _delete(redis: Any, keys: list[str]) -> int:
    """Delete ``keys`` one DEL each (keys of different hash slots may not share a DEL)."""
    if not keys:
        return 0
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.delete(key)
        return sum(int(n) for n in await pipe.execute())


def _prefix(key: str) -> str:
    return glob_escape(conversation_key(key, "")) + "*"

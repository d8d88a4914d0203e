"""The conversation log: what a widget shows, kept per conversation, replayed and pushed live.

Every message of a web conversation (the customer's, the bot's, an agent's) is appended once,
under a dedup id (the widget's client message id, or the outbound message's key), and gets an
ordered id. A widget asks for everything after the last id it has seen: the same read serves a
reload, a reconnect and a second tab, in order and without duplicates. Appends publish a
signal, so the process holding a conversation's socket learns of a reply that another process
sent (Redis pub/sub); typing signals are published without being kept.

Two implementations, as for the store: in memory (``memory://``) and Redis (``redis://``, a
stream per conversation).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from typing import Any, Protocol

from redis.exceptions import RedisError

from common import redisconn
from common.errors import StoreUnavailable
from common.logging import get_logger

Entry = dict[str, Any]
Signal = dict[str, Any]
Listener = Callable[[Signal], None]
Rows = list[tuple[str, Entry]]
ENTRY_SIGNAL: Signal = {"kind": "entry"}


def valid_id(value: object) -> str | None:
    """A log id from a client (``<ms>-<seq>``), or None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    head, _, tail = value.partition("-")
    return value if head.isdigit() and tail.isdigit() else None


def _after(a: str, b: str) -> bool:
    x, _, y = a.partition("-")
    p, _, q = b.partition("-")
    return (int(x), int(y)) > (int(p), int(q))


class ConversationLog(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def append(self, conversation: str, dedup: str, entry: Entry) -> str | None:
        """Append ``entry`` unless ``dedup`` was appended before; its id, or None."""

    async def read(self, conversation: str, after: str | None, limit: int) -> Rows:
        """Entries after ``after`` (oldest first, at most ``limit``); without ``after``, the
        newest ``limit``."""

    async def signal(self, conversation: str, signal: Signal) -> None:
        """Publish a transient signal (typing) to the conversation's sockets, everywhere."""

    async def listen(self, conversation: str, listener: Listener) -> Callable[[], None]:
        """Hear the conversation's signals in this process; returns the unsubscribe."""


class _Listeners:
    def __init__(self) -> None:
        self.by_conversation: dict[str, set[Listener]] = defaultdict(set)

    def add(self, conversation: str, listener: Listener) -> bool:
        """True when it is the conversation's first listener here."""
        first = not self.by_conversation.get(conversation)
        self.by_conversation[conversation].add(listener)
        return first

    def remove(self, conversation: str, listener: Listener) -> bool:
        """True when it was the conversation's last listener here."""
        listeners = self.by_conversation.get(conversation)
        if listeners is None:
            return False
        listeners.discard(listener)
        if listeners:
            return False
        del self.by_conversation[conversation]
        return True

    def fire(self, conversation: str, signal: Signal) -> None:
        for listener in list(self.by_conversation.get(conversation, ())):
            listener(signal)


class MemoryLog:
    """One process: entries in memory, signals called directly."""

    def __init__(self, *, keep: int) -> None:
        self.keep = keep
        self._entries: dict[str, list[tuple[str, Entry]]] = defaultdict(list)
        self._seen: dict[str, OrderedDict[str, None]] = defaultdict(OrderedDict)
        self._last = (0, 0)  # (ms, seq): ids grow like a Redis stream's, across restarts too
        self._listeners = _Listeners()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def append(self, conversation: str, dedup: str, entry: Entry) -> str | None:
        seen = self._seen[conversation]
        if dedup in seen:
            return None
        seen[dedup] = None
        while len(seen) > 4 * self.keep:
            seen.popitem(last=False)
        ms, seq = self._last
        now = int(time.time() * 1000)
        self._last = (now, 0) if now > ms else (ms, seq + 1)
        entry_id = "-".join(map(str, self._last))
        entries = self._entries[conversation]
        entries.append((entry_id, entry))
        del entries[: -self.keep]
        self._listeners.fire(conversation, ENTRY_SIGNAL)
        return entry_id

    async def read(self, conversation: str, after: str | None, limit: int) -> Rows:
        entries = self._entries.get(conversation, [])
        if after is None:
            return entries[-limit:]
        return [(i, e) for i, e in entries if _after(i, after)][:limit]

    async def signal(self, conversation: str, signal: Signal) -> None:
        self._listeners.fire(conversation, signal)

    async def listen(self, conversation: str, listener: Listener) -> Callable[[], None]:
        self._listeners.add(conversation, listener)

        def stop() -> None:
            self._listeners.remove(conversation, listener)

        return stop


# KEYS: the dedup claim, the stream. ARGV: claim ttl ms, max length, entry JSON, pub/sub
# channel, stream ttl ms.
_APPEND = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  redis.call('PUBLISH', ARGV[4], '{"kind":"entry"}')
  return id
end
return false
"""
_IDLE_CHANNEL = "web:live:-"  # keeps the subscriber connection listening when no socket is


class RedisLog:
    """Any number of processes: a stream per conversation, signals over pub/sub."""

    def __init__(
        self,
        url: str,
        *,
        keep: int,
        ttl: float,
        dedup_ttl: float | None = None,
        max_connections: int = 512,
    ) -> None:
        # The store's URL and topology (one server, cluster, Sentinel: common/redisconn.py).
        self.redis: Any = redisconn.connect(url, max_connections=max_connections)
        self.keep = keep
        self.ttl_ms = int(ttl * 1000)  # the conversation's log lives as long as its session
        self.dedup_ms = int((dedup_ttl or ttl) * 1000)  # a message id is remembered this long
        self._listeners = _Listeners()
        self._pubsub: Any = None  # set, and subscribed to every listened conversation, once ready
        self._lock = asyncio.Lock()  # one subscription change at a time on the one connection
        self._reader: asyncio.Task[None] | None = None
        self._append = self.redis.register_script(_APPEND)

    @staticmethod
    def _channel(conversation: str) -> str:
        return f"web:live:{conversation}"

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read_signals())

    async def close(self) -> None:
        """Stop listening and close the connections; never hangs a shutdown on Redis."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(5):
                    await self._reader
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            if self._pubsub is not None:
                async with asyncio.timeout(5):
                    await self._pubsub.aclose()
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(5):
                await redisconn.close(self.redis)

    async def append(self, conversation: str, dedup: str, entry: Entry) -> str | None:
        keys = [f"web:{{{conversation}}}:seen:{dedup}", f"web:{{{conversation}}}:log"]
        args: list[str | int] = [
            self.dedup_ms,
            self.keep,
            json.dumps(entry),
            self._channel(conversation),
            self.ttl_ms,
        ]
        try:
            entry_id = await self._append(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        return entry_id.decode() if isinstance(entry_id, bytes) else None

    async def read(self, conversation: str, after: str | None, limit: int) -> Rows:
        key = f"web:{{{conversation}}}:log"
        try:
            if after is None:
                newest: Any = await self.redis.xrevrange(key, "+", "-", count=limit)
                rows: Any = newest[::-1]
            else:
                rows = await self.redis.xrange(key, f"({after}", "+", count=limit)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        return [(i.decode(), json.loads(fields[b"e"])) for i, fields in rows]

    async def signal(self, conversation: str, signal: Signal) -> None:
        try:
            await self.redis.publish(self._channel(conversation), json.dumps(signal))
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def listen(self, conversation: str, listener: Listener) -> Callable[[], None]:
        if self._listeners.add(conversation, listener):
            await self._change("subscribe", conversation)

        def stop() -> None:
            if self._listeners.remove(conversation, listener):
                task = asyncio.ensure_future(self._change("unsubscribe", conversation))
                task.add_done_callback(lambda t: t.cancelled() or t.exception())

        return stop

    async def _change(self, change: str, conversation: str) -> None:
        async with self._lock:
            if self._pubsub is None:
                return  # the reader subscribes every listened conversation once connected
            with contextlib.suppress(RedisError, OSError):  # the reader re-subscribes
                await getattr(self._pubsub, change)(self._channel(conversation))

    async def _read_signals(self) -> None:
        """Deliver pub/sub signals; after a lost connection, subscribe again and tell every
        socket to re-read (it may have missed an append)."""
        log = get_logger(channel="web")
        delay = 0.1
        while True:
            try:
                async with self._lock:
                    pubsub = self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                    channels = [self._channel(c) for c in self._listeners.by_conversation]
                    await pubsub.subscribe(_IDLE_CHANNEL, *channels)
                for conversation in list(self._listeners.by_conversation):
                    self._listeners.fire(conversation, ENTRY_SIGNAL)
                delay = 0.1
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    name = message["channel"].decode()
                    conversation = name.removeprefix("web:live:")
                    try:
                        signal = json.loads(message["data"])
                    except ValueError:
                        continue
                    self._listeners.fire(conversation, signal)
            except (RedisError, OSError) as exc:
                log.warning("web_signals_lost", error=str(exc), retry_in=delay)
                async with self._lock:
                    lost, self._pubsub = self._pubsub, None
                if lost is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await lost.aclose()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

"""Redis store (redis-py's asyncio client): shared by every gateway process.

Every key of one conversation carries the same hash tag (``fd:{<key>}:…``), so a conversation
lives on one Redis Cluster slot and its multi-key updates run as one Lua script. Tickets are
Redis Streams entries read through a consumer group; an entry is deleted once acknowledged, so
the stream's length is the number of tickets waiting or in progress.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ParamSpec, TypeVar

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ClusterDownError, RedisClusterException, ResponseError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError as RedisReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common import redisconn
from common.batching import GroupCommit
from common.errors import StoreUnavailable
from gateway.store.base import (
    Advance,
    Claim,
    DeadLetter,
    Fence,
    Lane,
    Release,
    StoredSession,
    Ticket,
    TurnCommit,
)
from gateway.store.handoff import HandoffStore

GROUP = "frontdesk"
DLQ = "fd:dlq"
TIMERS = "fd:handoff:timers"  # zset: conversation key -> when its handoff timer is due
TIMER_CUSTOMERS = "fd:handoff:timer-customers"  # hash: conversation key -> customer JSON

P = ParamSpec("P")
R = TypeVar("R")
# A pipeline command: a redis-py pipeline method's name and its arguments.
_Command = tuple[str, tuple[Any, ...]]


def _translated(
    fn: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except (
            RedisConnectionError,
            RedisTimeoutError,
            OSError,
            # A failover in progress: the cluster has a slot without a primary, a primary
            # just became a replica, or the slot is moving. Retried by the platform (503).
            ClusterDownError,
            TryAgainError,
            RedisReadOnlyError,
            RedisClusterException,  # no node reachable (or the credentials refused)
        ) as exc:
            if args and isinstance(args[0], RedisStore):
                args[0].outages += 1  # read by the ticket repair (gateway/store/repair.py)
            raise StoreUnavailable(str(exc)) from exc

    return wrapper


def _tag(key: str) -> str:
    return key.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def conversation_key(key: str, suffix: str) -> str:
    return f"fd:{{{_tag(key)}}}:{suffix}"


def session_key_of(name: str) -> str:
    """The session key of a conversation's Redis key (the inverse of conversation_key)."""
    tag = name[len("fd:{") : name.index("}:")]
    return tag.replace("%7B", "{").replace("%7D", "}").replace("%25", "%")


def _failures_key(lane: Lane, key: str, item: bytes) -> str:
    return conversation_key(key, f"{lane}:failures:{hashlib.sha1(item).hexdigest()[:20]}")


def _stream(lane: Lane) -> str:
    return f"fd:lane:{lane}"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


# Dedup ids and sent markers live in one sorted set per conversation (member: the event id or
# message key, score: when it expires, in ms), trimmed by age on every write, so a
# conversation's key count does not grow with its messages. KEYS[3] of _ENQUEUE and _FENCE_SEND
# is the id's key in the layout before (``seen:<id>`` / ``sent:<key>``, one key per id): read
# too until those keys have expired (store.dedup_ttl / 7 days after the upgrade).
_MARKED = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function marked(set, member, old)
  local until_ms = redis.call('ZSCORE', set, member)
  if until_ms and tonumber(until_ms) > now_ms() then return true end
  return old ~= nil and redis.call('EXISTS', old) == 1
end
local function mark(set, member, ttl)
  local now = now_ms()
  redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
  redis.call('ZADD', set, now + tonumber(ttl), member)
  if redis.call('PTTL', set) < tonumber(ttl) then redis.call('PEXPIRE', set, ttl) end
end
"""
_ENQUEUE = (
    _MARKED
    + """
local fresh = not marked(KEYS[1], ARGV[3], KEYS[3])
if fresh then
  mark(KEYS[1], ARGV[3], ARGV[1])
  redis.call('RPUSH', KEYS[2], ARGV[2])
end
return {fresh and 1 or 0, redis.call('LLEN', KEYS[2])}
"""
)
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE_IF_EMPTY = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('LLEN', KEYS[2]) > 0 then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_COMMIT_TURN = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('LINDEX', KEYS[2], 0) ~= ARGV[2] then return -1 end
if (redis.call('HGET', KEYS[3], 'v') or '0') ~= ARGV[3] then return -2 end
redis.call('LPOP', KEYS[2])
redis.call('HSET', KEYS[3], 'v', ARGV[4], 'data', ARGV[5])
redis.call('PEXPIRE', KEYS[3], ARGV[6])
if ARGV[9] == 'set' then
  redis.call('ZADD', KEYS[6], ARGV[10], ARGV[12])
  redis.call('HSET', KEYS[7], ARGV[12], ARGV[11])
elseif ARGV[9] == 'del' then
  redis.call('ZREM', KEYS[6], ARGV[12])
  redis.call('HDEL', KEYS[7], ARGV[12])
end
local n_out = tonumber(ARGV[8])
for i = 13, 12 + n_out do redis.call('RPUSH', KEYS[4], ARGV[i]) end
if #ARGV > 12 + n_out then
  for i = 13 + n_out, #ARGV do redis.call('RPUSH', KEYS[5], ARGV[i]) end
  redis.call('LTRIM', KEYS[5], -tonumber(ARGV[7]), -1)
  redis.call('PEXPIRE', KEYS[5], ARGV[6])
end
if redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1])
  return {1}
end
return {1, redis.call('LINDEX', KEYS[2], 0)}
"""
_CLAIM = """
if redis.call('LLEN', KEYS[2]) == 0 then return 0 end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
local head = redis.call('LINDEX', KEYS[2], 0)
if KEYS[3] then return {head, redis.call('HMGET', KEYS[3], 'v', 'data')} end
return head
"""
# Sessions read by a claim or written by a commit, kept for the same lock holder's next
# load_session (one round trip less per turn); bounded in case a holder never asks.
_PREFETCH_LIMIT = 1024
_MISSING = object()
_FENCE_SEND = (
    _MARKED
    + """
if marked(KEYS[2], ARGV[3], KEYS[3]) then return 2 end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
)
_POP_HEAD = (
    _MARKED
    + """
if KEYS[3] then mark(KEYS[3], ARGV[4], ARGV[3]) end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('LINDEX', KEYS[2], 0) ~= ARGV[2] then return -1 end
redis.call('LPOP', KEYS[2])
if redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1])
  return {1}
end
return {1, redis.call('LINDEX', KEYS[2], 0)}
"""
)


class RedisStore:
    def __init__(self, url: str, *, max_connections: int = 512) -> None:
        self.url = url
        # One server, Redis Cluster or Sentinel (common/redisconn.py); one server's pool
        # blocks under load (a request waits for a connection instead of failing with a 503).
        self.redis: Any = redisconn.connect(url, max_connections=max_connections)
        self.cluster = isinstance(self.redis, RedisCluster)
        self._release = self.redis.register_script(_RELEASE)
        self._pop_head = self.redis.register_script(_POP_HEAD)
        self._groups_ready: set[Lane] = set()
        self._sessions: dict[tuple[str, str], StoredSession | None] = {}
        # The hot path's commands go through one group commit: the calls of many
        # conversations made together share a round trip (common/batching.py).
        self._pipelines: GroupCommit[Sequence[_Command], list[Any]] = GroupCommit(self._execute)
        self.outages = 0  # calls that failed with StoreUnavailable

    @_translated
    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        await redisconn.close(self.redis)

    # ----------------------------------------------------------------- ingest
    async def _pipelined(self, *commands: _Command) -> list[Any]:
        """The replies to ``commands``, sent in order in one pipeline together with the
        commands of the other calls made meanwhile. A command's error is raised to its own
        caller; a lost connection to every caller of the batch."""
        return await self._pipelines.submit(commands)

    async def _execute(self, calls: Sequence[Sequence[_Command]]) -> list[list[Any] | Exception]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for commands in calls:
                for name, args in commands:
                    getattr(pipe, name)(*args)
            replies = await pipe.execute(raise_on_error=False)
        results: list[list[Any] | Exception] = []
        start = 0
        for commands in calls:
            mine = list(replies[start : start + len(commands)])
            start += len(commands)
            error = next((r for r in mine if isinstance(r, Exception)), None)
            results.append(error if error is not None else mine)
        return results

    @staticmethod
    def _script(body: str, keys: Sequence[str], args: Sequence[Any]) -> _Command:
        """A Lua script as a pipeline command. EVAL with the body, not EVALSHA: nothing to
        reload after a restart or a failover, and Redis caches the compiled body by its hash."""
        return ("eval", (body, len(keys), *keys, *args))

    @_translated
    async def enqueue(self, key: str, event_id: str, payload: bytes, dedup_ttl: float) -> bool:
        """Deduplicate and append the event, then post its ticket. A re-delivery posts a
        ticket too (its first one may never have been posted); a ticket for an empty inbox is
        harmless. Webhooks that arrive together share one round trip."""
        seen = conversation_key(key, "seen")
        inbox = conversation_key(key, "turns")
        old = conversation_key(key, f"seen:{event_id}")  # the layout before: read, not written
        (fresh, _pending), _ = await self._pipelined(
            self._script(_ENQUEUE, [seen, inbox, old], [_ms(dedup_ttl), payload, event_id]),
            ("xadd", (_stream("turns"), {"k": key})),
        )
        return bool(fresh)

    # ------------------------------------------------------------ lane tickets
    async def _ensure_group(self, lane: Lane) -> None:
        if lane in self._groups_ready:
            return
        try:
            await self.redis.xgroup_create(_stream(lane), GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups_ready.add(lane)

    @_translated
    async def post_ticket(self, lane: Lane, key: str) -> None:
        await self._pipelined(("xadd", (_stream(lane), {"k": key})))

    @staticmethod
    def _tickets(entries: list[Any], reclaimed: bool) -> list[Ticket]:
        return [
            Ticket(id=_s(entry_id), key=_s(fields[b"k"]), reclaimed=reclaimed)
            for entry_id, fields in entries
            if fields
        ]

    @_translated
    async def next_tickets(
        self, lane: Lane, consumer: str, count: int, block: float
    ) -> list[Ticket]:
        await self._ensure_group(lane)
        reply: Any = await self.redis.xreadgroup(
            GROUP, consumer, {_stream(lane): ">"}, count=count, block=_ms(block)
        )
        streams = reply.items() if isinstance(reply, dict) else reply or []
        return [t for _, entries in streams for t in self._tickets(entries, False)]

    @_translated
    async def reclaim_tickets(
        self, lane: Lane, consumer: str, min_idle: float, count: int
    ) -> list[Ticket]:
        await self._ensure_group(lane)
        reply = await self.redis.xautoclaim(
            _stream(lane), GROUP, consumer, _ms(min_idle), start_id="0-0", count=count
        )
        entries: list[Any] = reply[1]
        return self._tickets(entries, True)

    @_translated
    async def ack(self, lane: Lane, *ticket_ids: str) -> None:
        # One round trip, no MULTI: a ticket acknowledged but not deleted would only be a
        # stale entry in the depth gauge, never a lost or repeated turn.
        if not ticket_ids:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xack(_stream(lane), GROUP, *ticket_ids)
            pipe.xdel(_stream(lane), *ticket_ids)
            await pipe.execute()

    # ------------------------------------------------------ conversation locks
    @_translated
    async def acquire(self, lane: Lane, key: str, token: str, ttl: float) -> bool:
        lock = conversation_key(key, f"{lane}:lock")
        return bool(await self.redis.set(lock, token, nx=True, px=_ms(ttl)))

    @_translated
    async def claim(self, lane: Lane, key: str, token: str, ttl: float) -> Claim:
        keys = [conversation_key(key, f"{lane}:lock"), conversation_key(key, lane)]
        if lane == "turns":  # the turn will need the session: read it in the same step
            keys.append(conversation_key(key, "session"))
        (reply,) = await self._pipelined(self._script(_CLAIM, keys, [token, _ms(ttl)]))
        if isinstance(reply, list):
            head, (version, data) = reply
            stored = None if version is None else StoredSession(int(version), _b(data))
            self._prefetched(key, token, stored)
            return _b(head)
        if isinstance(reply, bytes | str):
            return _b(reply)
        return "empty" if reply == 0 else "held"

    def _prefetched(self, key: str, token: str, stored: StoredSession | None) -> None:
        if len(self._sessions) >= _PREFETCH_LIMIT:
            self._sessions.clear()
        self._sessions[key, token] = stored

    @_translated
    async def renew(self, lane: Lane, key: str, token: str, ttl: float) -> bool:
        lock = conversation_key(key, f"{lane}:lock")
        (renewed,) = await self._pipelined(self._script(_RENEW, [lock], [token, _ms(ttl)]))
        return bool(renewed)

    @_translated
    async def release_if_empty(self, lane: Lane, key: str, token: str) -> Release:
        keys = [conversation_key(key, f"{lane}:lock"), conversation_key(key, lane)]
        (code,) = await self._pipelined(self._script(_RELEASE_IF_EMPTY, keys, [token]))
        return "released" if code == 1 else "not_empty" if code == 0 else "lost"

    @_translated
    async def release(self, lane: Lane, key: str, token: str) -> None:
        await self._release(keys=[conversation_key(key, f"{lane}:lock")], args=[token])

    @_translated
    async def head(self, lane: Lane, key: str) -> bytes | None:
        item = await self.redis.lindex(conversation_key(key, lane), 0)
        return None if item is None else _b(item)

    # -------------------------------------------------------------- sessions
    @_translated
    async def load_session(self, key: str, token: str | None = None) -> StoredSession | None:
        # The lock holder ``token`` gets what its claim read or its last commit wrote: only a
        # writer that took the lock since could have changed it, and then the commit's version
        # check refuses the turn. Used once.
        if token is not None:
            prefetched = self._sessions.pop((key, token), _MISSING)
            if prefetched is not _MISSING:
                return prefetched  # type: ignore[return-value]
        fields = await self.redis.hgetall(conversation_key(key, "session"))
        if not fields:
            return None
        return StoredSession(version=int(fields[b"v"]), data=_b(fields[b"data"]))

    @_translated
    async def commit_turn(self, key: str, token: str, item: bytes, commit: TurnCommit) -> Advance:
        keys = [
            conversation_key(key, "turns:lock"),
            conversation_key(key, "turns"),
            conversation_key(key, "session"),
            conversation_key(key, "sends"),
            conversation_key(key, "transcript"),
        ]
        session = commit.session
        timer = commit.timer
        op = "" if timer is None else "del" if timer.due is None else "set"
        # The handoff schedule's keys are global: inside the commit on one server (atomic),
        # right after it on Redis Cluster, where a script may not touch another slot (the
        # window this leaves is in docs/operations.md).
        after = op if self.cluster else ""
        if timer is not None and not self.cluster:
            keys += [TIMERS, TIMER_CUSTOMERS]
        args: list[Any] = [
            token,
            item,
            str(commit.expected_version),
            str(session.version),
            session.data,
            _ms(commit.session_ttl),
            commit.transcript_limit,
            len(commit.outbound),
            "" if self.cluster else op,
            repr(timer.due) if timer is not None and timer.due is not None else "0",
            timer.customer if timer is not None else "",
            key,
            *commit.outbound,
            *commit.transcript,
        ]
        # One round trip: the commit, then the sends ticket. A ticket after a refused commit
        # is harmless; a crash between the two is covered by the turn ticket, which stays
        # pending and, reclaimed, posts a sends ticket again.
        ticket: list[_Command] = [("xadd", (_stream("sends"), {"k": key}))]
        replies = await self._pipelined(
            self._script(_COMMIT_TURN, keys, args), *(ticket if commit.outbound else [])
        )
        advance = _advance(replies[0])
        if after and advance.ok and timer is not None:
            async with self.redis.pipeline(transaction=False) as pipe:
                if timer.due is None:
                    pipe.zrem(TIMERS, key)
                    pipe.hdel(TIMER_CUSTOMERS, key)
                else:
                    pipe.zadd(TIMERS, {key: timer.due})
                    pipe.hset(TIMER_CUSTOMERS, key, timer.customer)
                await pipe.execute()
        if advance.next is not None:  # the next turn starts from the session just saved
            self._prefetched(key, token, session)
        return advance

    @_translated
    async def transcript(self, key: str) -> list[bytes]:
        return [_b(v) for v in await self.redis.lrange(conversation_key(key, "transcript"), 0, -1)]

    # ---------------------------------------------------------------- outbox
    @_translated
    async def fence_send(self, key: str, token: str, message_key: str, ttl: float) -> Fence:
        keys = [
            conversation_key(key, "sends:lock"),
            conversation_key(key, "sent"),
            conversation_key(key, f"sent:{message_key}"),  # the layout before: read only
        ]
        (code,) = await self._pipelined(
            self._script(_FENCE_SEND, keys, [token, _ms(ttl), message_key])
        )
        return "sent" if code == 2 else "ok" if code == 1 else "lost"

    @_translated
    async def commit_sent(
        self, key: str, token: str, item: bytes, message_key: str, ttl: float
    ) -> Advance:
        keys = [
            conversation_key(key, "sends:lock"),
            conversation_key(key, "sends"),
            conversation_key(key, "sent"),
        ]
        args = [token, item, _ms(ttl), message_key]
        (reply,) = await self._pipelined(self._script(_POP_HEAD, keys, args))
        return _advance(reply)

    @_translated
    async def dead_letter(self, key: str, token: str, item: bytes, letter: DeadLetter) -> Advance:
        # The letter is kept before the pop (the queue's key is in another cluster slot): a
        # crash in between leaves the item to fail again, never lost.
        await self.redis.hset(DLQ, letter.id, _letter_json(letter))
        lane = letter.lane
        keys = [conversation_key(key, f"{lane}:lock"), conversation_key(key, lane)]
        advance = _advance(await self._pop_head(keys=keys, args=[token, item, 0]))
        if advance.ok:
            await self.redis.delete(_failures_key(lane, key, item))
        return advance

    @_translated
    async def count_failure(self, lane: Lane, key: str, item: bytes, ttl: float) -> int:
        name = _failures_key(lane, key, item)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.pexpire(name, _ms(ttl))
            count, _ = await pipe.execute()
        return int(count)

    @_translated
    async def dead_letters(self) -> list[DeadLetter]:
        raw = await self.redis.hgetall(DLQ)
        return sorted((_letter(v) for v in raw.values()), key=lambda d: d.failed_at)

    @_translated
    async def append_outbound(self, key: str, items: list[bytes]) -> None:
        if items:
            await self.redis.rpush(conversation_key(key, "sends"), *items)
            await self.post_ticket("sends", key)

    @_translated
    async def requeue_dead_letter(self, letter_id: str) -> DeadLetter | None:
        raw = await self.redis.hget(DLQ, letter_id)
        if raw is None:
            return None
        letter = _letter(raw)
        await self.redis.rpush(conversation_key(letter.key, letter.lane), letter.payload)
        await self.redis.hdel(DLQ, letter_id)
        await self.post_ticket(letter.lane, letter.key)
        return letter

    @_translated
    async def repost_tickets(self) -> int:
        """Post a ticket for every conversation whose inbox or outbox holds items (a SCAN of
        every primary); how many. After a failover, a ticket the old primary acknowledged but
        never replicated is gone while the items it announced are not."""
        posted = 0
        for lane in ("turns", "sends"):
            async for name in self.redis.scan_iter(
                match=f"fd:{{*}}:{lane}", count=1000, _type="list"
            ):
                await self.post_ticket(lane, session_key_of(_s(name)))
                posted += 1
        return posted

    # --------------------------------------------------------------- handoff
    def handoff_store(self, retention: float | None = None) -> HandoffStore:
        from gateway.store.redis_handoff import RedisHandoffStore

        return RedisHandoffStore(self.redis, retention=retention)

    # ----------------------------------------------------------- observation
    @_translated
    async def depth(self, lane: Lane) -> int:
        return int(await self.redis.xlen(_stream(lane)))


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _advance(reply: Any) -> Advance:
    """The reply of a pop script: an integer (refused) or {1} (released) or {1, next head}."""
    if not isinstance(reply, list):
        return Advance(ok=False)
    return Advance(ok=True, next=_b(reply[1]) if len(reply) > 1 else None)


def _b(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _letter_json(letter: DeadLetter) -> str:
    return json.dumps(
        {
            "id": letter.id,
            "key": letter.key,
            "payload": letter.payload.decode("utf-8", "surrogateescape"),
            "error": letter.error,
            "attempts": letter.attempts,
            "failed_at": letter.failed_at,
            "lane": letter.lane,
        }
    )


def _letter(raw: bytes | str) -> DeadLetter:
    d = json.loads(raw)
    return DeadLetter(
        id=d["id"],
        key=d["key"],
        payload=d["payload"].encode("utf-8", "surrogateescape"),
        error=d["error"],
        attempts=int(d["attempts"]),
        failed_at=float(d.get("failed_at", time.time())),
        lane="turns" if d.get("lane") == "turns" else "sends",
    )

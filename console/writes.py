"""The console's writes for a batch of turns, coalesced per key before they are sent.

Ten turns that each add one to the hour's ``in:sms`` counter become one HINCRBY by 10; ten
turns that each put their conversation in the day's active set become one ZADD of ten members;
each key's TTL is set once. Redis commands on different keys, hash fields or set members are
independent, so merging them changes nothing a reader sees once the batch is written: only the
order of the commands on one field or one member matters, and that is kept (a member added then
removed ends removed; a hash field set twice keeps the later value).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from console import keys as k

HashOp = tuple[str, Any]  # ("set" | "setnx" | "incr", value)


class Writes:
    """Commands for one or more turns; :meth:`send` adds them, merged, to a Redis pipeline."""

    def __init__(self, retention: float) -> None:
        self.retention = int(retention)
        self._hashes: dict[str, dict[str, list[HashOp]]] = {}
        self._zsets: dict[str, dict[str, float | None]] = {}  # None: removed
        self._members: dict[tuple[str, str], set[str]] = {}  # ("pfadd" | "sadd", key)
        self._lists: dict[str, tuple[list[str], int | None]] = {}  # pushed, keep the last N
        self._strings: dict[str, tuple[str, int]] = {}  # value, seconds to live
        self._ttls: dict[str, int] = {}

    # ------------------------------------------------------------------ hashes
    def hset(self, key: str, mapping: Mapping[str, Any]) -> None:
        for field, value in mapping.items():
            self._hash_op(key, field, ("set", value))

    def hsetnx(self, key: str, field: str, value: Any) -> None:
        self._hash_op(key, field, ("setnx", value))

    def hincrby(self, key: str, field: str, n: int = 1) -> None:
        self._hash_op(key, field, ("incr", n))

    def _hash_op(self, key: str, field: str, op: HashOp) -> None:
        ops = self._hashes.setdefault(key, {}).setdefault(field, [])
        if ops and ops[-1][0] == op[0]:
            kind, before = ops[-1]
            if kind == "incr":
                ops[-1] = ("incr", before + op[1])
            elif kind == "set":
                ops[-1] = op
            return  # setnx after setnx: the first one wins
        ops.append(op)

    # -------------------------------------------------- sets, sorted sets, lists
    def zadd(self, key: str, member: str, score: float) -> None:
        self._zsets.setdefault(key, {})[member] = score

    def zrem(self, key: str, member: str) -> None:
        self._zsets.setdefault(key, {})[member] = None

    def pfadd(self, key: str, member: str) -> None:
        self._members.setdefault(("pfadd", key), set()).add(member)

    def sadd(self, key: str, member: str) -> None:
        self._members.setdefault(("sadd", key), set()).add(member)

    def rpush(self, key: str, value: str, *, keep_last: int | None = None) -> None:
        pushed, keep = self._lists.get(key, ([], None))
        pushed.append(value)
        if keep_last is not None:
            keep = keep_last if keep is None else min(keep, keep_last)
        self._lists[key] = (pushed, keep)

    def set(self, key: str, value: str, *, ex: int) -> None:
        self._strings[key] = (value, ex)

    # ---------------------------------------------------------------- the TTLs
    def keep(self, key: str) -> None:
        """An aggregate: kept ``KEEP`` (400 days)."""
        self._ttls[key] = k.KEEP

    def personal(self, key: str) -> None:
        """About a customer: kept as long as the transcripts (``store.transcript_retention``)."""
        self._ttls[key] = self.retention

    # ----------------------------------------------------- the console's idioms
    def count(self, hour: str, field: str, n: int = 1) -> None:
        self.hincrby(k.COUNTS + hour, field, n)
        self.keep(k.COUNTS + hour)

    def index(self, dimension: str, value: str, key: str, at: float) -> None:
        self.zadd(k.index_key(dimension, value), key, at)
        self.personal(k.index_key(dimension, value))
        self.sadd(k.INDEX_NAMES + dimension, value)

    # --------------------------------------------------------------- sending
    def send(self, pipe: Any) -> None:
        """Add the merged commands to ``pipe`` (the caller executes it)."""
        for key, fields in self._hashes.items():
            assign = {f: ops[0][1] for f, ops in fields.items() if [o for o, _ in ops] == ["set"]}
            if assign:
                pipe.hset(key, mapping=assign)
            for field, ops in fields.items():
                if field in assign:
                    continue
                for kind, value in ops:
                    if kind == "set":
                        pipe.hset(key, field, value)
                    elif kind == "setnx":
                        pipe.hsetnx(key, field, value)
                    else:
                        pipe.hincrby(key, field, value)
        for key, members in self._zsets.items():
            added = {m: s for m, s in members.items() if s is not None}
            removed = [m for m, s in members.items() if s is None]
            if added:
                pipe.zadd(key, added)
            if removed:
                pipe.zrem(key, *removed)
        for (command, key), values in self._members.items():
            getattr(pipe, command)(key, *values)
        for key, (pushed, keep) in self._lists.items():
            pipe.rpush(key, *pushed)
            if keep is not None:
                pipe.ltrim(key, -keep, -1)
        for key, (value, seconds) in self._strings.items():
            pipe.set(key, value, ex=seconds)
        for key, seconds in self._ttls.items():
            pipe.expire(key, seconds)

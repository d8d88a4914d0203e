"""Console sessions: a random token in an HttpOnly, SameSite=Strict cookie (Secure when the
public URL is https), its SHA-256 in Redis with the user, role and CSRF token; failed logins
counted per name and per address, with a pause after too many; the audit log of admin actions."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from common.logging import get_logger
from console import keys as k
from console.users import Role

COOKIE = "fd_console"
PRE_COOKIE = "fd_console_login"  # the login form's CSRF token (double submit)
AUDIT_MAXLEN = 10_000


@dataclass(frozen=True, slots=True)
class Login:
    user: str
    role: Role
    csrf: str
    token: str

    @property
    def admin(self) -> bool:
        return self.role == "admin"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


class Sessions:
    def __init__(self, redis: Any, *, ttl: float, max_failures: int, lockout: float) -> None:
        self.redis = redis
        self.ttl = int(ttl)
        self.max_failures = max_failures
        self.lockout = int(lockout)

    async def open(self, user: str, role: Role) -> Login:
        login = Login(user, role, secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        body = json.dumps({"user": user, "role": role, "csrf": login.csrf, "at": time.time()})
        await self.redis.set(k.SESSIONS + _digest(login.token), body, ex=self.ttl)
        return login

    async def get(self, token: str | None) -> Login | None:
        if not token:
            return None
        raw = await self.redis.get(k.SESSIONS + _digest(token))
        if raw is None:
            return None
        data = json.loads(raw)
        return Login(data["user"], data["role"], data["csrf"], token)

    async def close(self, token: str) -> None:
        await self.redis.delete(k.SESSIONS + _digest(token))

    async def locked(self, name: str, address: str) -> int:
        """Seconds until another try is allowed (0: now)."""
        for who in (f"user:{name}", f"ip:{address}"):
            count = await self.redis.get(k.FAILURES + who)
            if count is not None and int(count) >= self._limit(who):
                return max(1, int(await self.redis.ttl(k.FAILURES + who)))
        return 0

    def _limit(self, who: str) -> int:
        # An address may try a few names; a name is limited on its own.
        return self.max_failures * (4 if who.startswith("ip:") else 1)

    async def failed(self, name: str, address: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for who in (f"user:{name}", f"ip:{address}"):
                pipe.incr(k.FAILURES + who)
                pipe.expire(k.FAILURES + who, self.lockout)
            await pipe.execute()

    async def succeeded(self, name: str) -> None:
        await self.redis.delete(k.FAILURES + f"user:{name}")


class Audit:
    """Who did what, when: a capped Redis stream, and a log line for each entry."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    async def add(self, user: str, action: str, **detail: Any) -> None:
        entry = {"at": time.time(), "user": user, "action": action, "detail": detail}
        await self.redis.xadd(
            k.AUDIT, {"e": json.dumps(entry)}, maxlen=AUDIT_MAXLEN, approximate=True
        )
        get_logger().info("console_audit", user=user, action=action, **detail)

    async def entries(self, count: int = 500) -> list[dict[str, Any]]:
        raw = await self.redis.xrevrange(k.AUDIT, count=count)
        return [json.loads(fields[b"e"]) for _, fields in raw]

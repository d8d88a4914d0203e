"""Open a Redis client from a ``store.url``: one server, a Redis Cluster, or a Sentinel-managed
primary, each optionally over TLS and with an ACL user and password.

``redis://[user:password@]host:port/db`` (``rediss://`` for TLS, ``unix:///path.sock``): one
server, as redis-py reads it.
``redis+cluster://[user:password@]host:port,host:port`` (``rediss+cluster://``): Redis Cluster,
through redis-py's ``RedisCluster``; the listed nodes are only where discovery starts.
``redis+sentinel://[user:password@]host:port,host:port/service[/db]``
(``rediss+sentinel://``): the primary that the Sentinels name for ``service``, through
redis-py's ``Sentinel.master_for``; after a failover the client follows the new primary.

User and password belong to the data nodes (percent-encoded in the URL; write
``${REDIS_PASSWORD}`` in config.yml and the loader takes it from the environment). Query
options: ``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``, ``ssl_cert_reqs``
(``required``/``optional``/``none``) for TLS; ``sentinel_username``/``sentinel_password``
when the Sentinels have their own credentials; ``socket_timeout`` (seconds).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff

Topology = Literal["single", "cluster", "sentinel"]
SCHEMES: dict[str, tuple[Topology, bool]] = {
    "redis": ("single", False),
    "rediss": ("single", True),
    "unix": ("single", False),
    "redis+cluster": ("cluster", False),
    "rediss+cluster": ("cluster", True),
    "redis+sentinel": ("sentinel", False),
    "rediss+sentinel": ("sentinel", True),
}
_TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")
# Long enough for the lanes' blocking ticket reads (1 s) and a busy server; short enough that
# a paused or unreachable node turns into StoreUnavailable instead of a hung webhook.
SOCKET_TIMEOUT = 5.0
CONNECT_TIMEOUT = 2.0


class RedisUrlError(ValueError):
    """A ``store.url`` that names no usable Redis."""


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """A parsed ``store.url`` (the password is kept out of ``repr``)."""

    url: str = field(repr=False)
    topology: Topology
    tls: bool
    hosts: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    options: dict[str, str] = field(default_factory=dict, repr=False)


def is_redis_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() in SCHEMES


def parse_redis_url(url: str) -> RedisTarget:
    """Split a ``store.url`` into what the clients need; RedisUrlError when it cannot be used."""
    scheme = url.split("://", 1)[0].lower()
    if "://" not in url or scheme not in SCHEMES:
        raise RedisUrlError(
            f"unsupported store.url scheme {scheme!r}: use redis://, rediss://, unix://, "
            "redis+cluster://, rediss+cluster://, redis+sentinel:// or rediss+sentinel://"
        )
    topology, tls = SCHEMES[scheme]
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    if topology == "single":
        return RedisTarget(url=url, topology=topology, tls=tls, options=options)
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    username: str | None = None
    password: str | None = None
    if userinfo:
        user, has_password, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if has_password else None
    hosts = tuple(_host(h, url) for h in hostlist.split(",") if h.strip())
    if not hosts:
        raise RedisUrlError(f"{_masked(url)}: no host:port listed")
    path = [p for p in parts.path.split("/") if p]
    service, db = "", 0
    if topology == "sentinel":
        if not path:
            raise RedisUrlError(f"{_masked(url)}: name the service, e.g. …/mymaster")
        service = unquote(path[0])
        path = path[1:]
    if path:
        if topology == "cluster" and path != ["0"]:
            raise RedisUrlError(f"{_masked(url)}: Redis Cluster has only database 0")
        if not path[0].isdigit():
            raise RedisUrlError(f"{_masked(url)}: the database must be a number")
        db = int(path[0])
    return RedisTarget(
        url=url,
        topology=topology,
        tls=tls,
        hosts=hosts,
        service=service,
        db=db,
        username=username,
        password=password,
        options=options,
    )


def _host(text: str, url: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    if not host or not port.isdigit():
        raise RedisUrlError(f"{_masked(url)}: {text.strip()!r} is not host:port")
    return host.strip("[]"), int(port)


def _masked(url: str) -> str:
    scheme, _, rest = url.partition("://")
    _userinfo, at, hosts = rest.rpartition("@")
    return f"{scheme}://{'***@' if at else ''}{hosts}"


def _tls_kwargs(target: RedisTarget) -> dict[str, Any]:
    if not target.tls:
        return {}
    kwargs: dict[str, Any] = {"ssl": True}
    for name in _TLS_OPTIONS:
        if name in target.options:
            kwargs[name] = target.options[name]
    return kwargs


def _timeout(target: RedisTarget) -> float:
    return float(target.options.get("socket_timeout", SOCKET_TIMEOUT))


def connect(url: str, *, max_connections: int = 512) -> Any:
    """A redis-py asyncio client (``Redis`` or ``RedisCluster``) for ``url``; connections are
    made lazily, so this never blocks. ``max_connections`` is per server (per node for a
    cluster); under load a call waits for a free connection instead of failing."""
    target = parse_redis_url(url)
    if target.topology == "single":
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=5,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=_timeout(target),
        )
        return aioredis.Redis(connection_pool=pool)
    auth: dict[str, Any] = {"username": target.username, "password": target.password}
    if target.topology == "cluster":
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in target.hosts],
            max_connections=max_connections,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=_timeout(target),
            # A failover takes the cluster a few seconds; a call fails over to StoreUnavailable
            # (a 503 the platform retries) rather than waiting it out inside a webhook.
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=3),
            **auth,
            **_tls_kwargs(target),
        )
    sentinel_auth = {
        k: target.options[f"sentinel_{k}"]
        for k in ("username", "password")
        if f"sentinel_{k}" in target.options
    }
    sentinel = Sentinel(
        list(target.hosts),
        sentinel_kwargs={
            "socket_connect_timeout": CONNECT_TIMEOUT,
            "socket_timeout": CONNECT_TIMEOUT,
            **sentinel_auth,
            **_tls_kwargs(target),
        },
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=_timeout(target),
        max_connections=max_connections,
        db=target.db,
        **auth,
        **_tls_kwargs(target),
    )
    return sentinel.master_for(target.service)


async def close(client: Any) -> None:
    """Close a client from :func:`connect` and its connections (any topology)."""
    if isinstance(client, RedisCluster):
        await client.aclose()
        return
    with contextlib.suppress(TypeError):
        await client.aclose(close_connection_pool=True)
        return
    await client.aclose()

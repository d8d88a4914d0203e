"""store.url for every Redis topology: parsing, config errors, and an ACL user with its
password from the environment on one server and on Redis Cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from common import redisconn
from common.redisconn import RedisUrlError, parse_redis_url
from common.settings import ConfigError
from frontdesk.config import load_settings
from gateway.store import StoreUnavailable, open_store
from tests.support.redis_topologies import Cluster


def test_cluster_and_sentinel_urls_name_hosts_service_and_credentials() -> None:
    cluster = parse_redis_url("rediss+cluster://fd:p%40ss@10.0.0.1:7000,10.0.0.2:7001")
    assert (cluster.topology, cluster.tls) == ("cluster", True)
    assert cluster.hosts == (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    assert (cluster.username, cluster.password) == ("fd", "p@ss")
    sentinel = parse_redis_url(
        "redis+sentinel://:secret@s1:26379,s2:26379/mymaster/2?sentinel_password=x"
    )
    assert (sentinel.topology, sentinel.service, sentinel.db) == ("sentinel", "mymaster", 2)
    assert (sentinel.username, sentinel.password) == (None, "secret")
    assert sentinel.options == {"sentinel_password": "x"}
    assert "secret" not in repr(sentinel)
    assert parse_redis_url("rediss://h:6380/0").tls


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel://s1:26379", "name the service"),
        ("redis+cluster://", "no host:port"),
        ("redis+cluster://h:7000/3", "only database 0"),
        ("redis+cluster://:hunter2@h", "is not host:port"),
        ("mysql://h:1", "unsupported store.url scheme"),
    ],
)
def test_a_bad_url_is_a_config_error_without_the_password(
    tmp_path: Path, url: str, problem: str
) -> None:
    with pytest.raises(RedisUrlError, match=problem):
        parse_redis_url(url)
    config = tmp_path / "config.yml"
    config.write_text(f"store:\n  url: {url}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert problem in str(info.value) and "config.yml:2" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_tls_options_reach_the_cluster_client() -> None:
    client = redisconn.connect(
        "rediss+cluster://h:7000?ssl_ca_certs=/etc/ca.pem&ssl_cert_reqs=required"
    )
    kwargs = client.connection_kwargs
    assert kwargs["ssl_ca_certs"] == "/etc/ca.pem"
    assert "SSL" in kwargs["connection_class"].__name__


def _add_user(ports: list[int], password: str) -> None:
    for port in ports:
        with redis.Redis(port=port) as c:
            c.acl_setuser(
                "frontdesk", enabled=True, passwords=[f"+{password}"], keys=["*"],
                channels=["*"], commands=["+@all"],
            )  # fmt: skip


def _remove_user(ports: list[int]) -> None:
    for port in ports:
        with redis.Redis(port=port) as c:
            c.acl_deluser("frontdesk")


@pytest.mark.parametrize("kind", ["single", "cluster"])
async def test_an_acl_user_with_its_password_from_the_environment(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redis_cluster: Cluster,
) -> None:
    if kind == "single":
        url = request.getfixturevalue("redis_url")
        ports = [int(url.rsplit(":", 1)[1].split("/")[0])]
    else:
        url = request.getfixturevalue("cluster_url")
        ports = [n.port for n in redis_cluster.live()]
    scheme, hosts = url.split("://")
    _add_user(ports, "s3cret-pass")
    try:
        config = tmp_path / "config.yml"
        config.write_text(f'store:\n  url: "{scheme}://frontdesk:${{REDIS_PASSWORD}}@{hosts}"\n')
        settings = load_settings(config, env={"REDIS_PASSWORD": "s3cret-pass"})
        store = open_store(settings.store.url)
        try:
            assert await store.enqueue("api:acl", "e1", b"x", 60)
            assert await store.head("turns", "api:acl") == b"x"
        finally:
            await store.close()
        wrong = open_store(f"{scheme}://frontdesk:wrong@{hosts}")
        try:
            with pytest.raises(StoreUnavailable):
                await wrong.ping()
        finally:
            await wrong.close()
    finally:
        _remove_user(ports)

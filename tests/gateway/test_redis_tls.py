"""``rediss://`` for real: a redis-server serving TLS only, with a certificate from a test CA
(made with the openssl command), reached with the CA given in the URL's query; without the CA
the store is unavailable rather than talking in the clear."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store import StoreUnavailable, open_store
from tests.support.redis_server import free_port
from tests.support.redis_topologies import Node, _binary


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    d = tmp_path / "tls"
    d.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=d)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "server.key", "-out", "server.csr", cwd=d)  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "1", "-extfile", "san.ext", "-out", "server.crt",
             cwd=d)  # fmt: skip
    port = free_port()
    args = [
        _binary("redis-server"), "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
        "--tls-cert-file", str(d / "server.crt"), "--tls-key-file", str(d / "server.key"),
        "--tls-ca-cert-file", str(d / "ca.crt"), "--tls-auth-clients", "no",
        "--save", "", "--appendonly", "no", "--dir", str(d),
    ]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    node = Node(port, d, args, process)
    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            if process.poll() is not None:
                pytest.skip("this redis-server was built without TLS")
            assert time.monotonic() < deadline, "redis-server (TLS) did not start"
            time.sleep(0.02)
        yield port, d / "ca.crt"
    finally:
        node.stop()


async def test_rediss_with_the_ca_from_the_url(tls_redis: tuple[int, Path]) -> None:
    port, ca = tls_redis
    store = open_store(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}")
    try:
        assert await store.enqueue("api:tls", "e1", b"over tls", 60)
        assert await store.head("turns", "api:tls") == b"over tls"
    finally:
        await store.close()
    unverified = open_store(f"rediss://127.0.0.1:{port}/0")  # the system CAs do not know it
    try:
        with pytest.raises(StoreUnavailable):
            await unverified.ping()
    finally:
        await unverified.close()
    plain = open_store(f"redis://127.0.0.1:{port}/0")
    try:
        with pytest.raises(StoreUnavailable):
            await plain.ping()
    finally:
        await plain.close()

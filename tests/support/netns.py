"""Gateway "hosts" as Linux network namespaces, each joined to the test's namespace by a veth
pair, so a test can cut one host off (``link down``) and bring it back.

Needs root (or CAP_NET_ADMIN) and ``ip``; :func:`unavailable` says why not, for a skip.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import uuid
from dataclasses import dataclass


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)


def unavailable() -> str | None:
    """None when network namespaces can be made here, else the reason."""
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    name = f"fdprobe{uuid.uuid4().hex[:6]}"
    made = _ip("netns", "add", name)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    _ip("netns", "del", name)
    return None


@dataclass
class Host:
    """A namespace ``name`` reached at ``address``; the test's side of its link is
    ``gateway_side`` (an address in the test's namespace, for Redis and the fake platform)."""

    name: str
    outer: str  # the veth end in the test's namespace
    address: str
    gateway_side: str

    @classmethod
    def create(cls) -> Host:
        tag = uuid.uuid4().hex[:6]
        net = f"10.{random.randint(100, 250)}.{random.randint(0, 250)}"
        host = cls(f"fd{tag}", f"fdv{tag}", f"{net}.2", f"{net}.1")
        inner = f"fdw{tag}"
        steps = [
            ("netns", "add", host.name),
            ("link", "add", host.outer, "type", "veth", "peer", "name", inner),
            ("link", "set", inner, "netns", host.name),
            ("addr", "add", f"{host.gateway_side}/24", "dev", host.outer),
            ("link", "set", host.outer, "up"),
            ("-n", host.name, "addr", "add", f"{host.address}/24", "dev", inner),
            ("-n", host.name, "link", "set", inner, "up"),
            ("-n", host.name, "link", "set", "lo", "up"),
        ]
        for step in steps:
            done = _ip(*step)
            if done.returncode != 0:
                host.remove()
                raise RuntimeError(f"ip {' '.join(step)}: {done.stderr.strip()}")
        return host

    def command(self, args: list[str]) -> list[str]:
        """``args`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *args]

    def cut(self) -> None:
        _ip("link", "set", self.outer, "down")

    def restore(self) -> None:
        _ip("link", "set", self.outer, "up")

    def remove(self) -> None:
        _ip("link", "del", self.outer)
        _ip("netns", "del", self.name)

"""Customer traffic from outside, as a platform sends it, and the figures a fault test prints.

``Traffic`` posts signed API-channel webhooks to a set of gateway processes (round robin):
each conversation is a sequence of numbered messages sent one after another; a message that
is refused (503, a 5xx, a connection error or a timeout) is sent again with the same event id
until it is acknowledged, as the platforms do. ``figures`` compares what was acknowledged with
what the fake platform received: answered, lost, doubled, out of order.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from channels.api import sign


@dataclass
class Sent:
    event_id: str
    conversation: str
    seq: int
    first_try: float
    accepted_at: float | None = None
    refusals: int = 0


@dataclass
class Traffic:
    ports: list[int]
    secret: str
    addresses: list[str] = field(default_factory=list)  # per port; 127.0.0.1 by default
    rate: float = 50.0  # messages a second, over all conversations
    conversations: int = 20
    sent: list[Sent] = field(default_factory=list)
    refused: collections.Counter[str] = field(default_factory=collections.Counter)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _quiet: set[int] = field(default_factory=set)
    _turn: int = 0

    def stop(self) -> None:
        self._stop.set()

    def quiet(self, share: float) -> None:
        """Stop that share of the conversations now (their last message has no later one to
        carry it along), the others go on."""
        self._quiet |= set(range(int(self.conversations * share)))

    async def run(self, duration: float | None = None) -> None:
        """Send until ``stop()`` (or ``duration`` seconds), then wait for every message in
        flight to be acknowledged."""
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            per_conversation = self.conversations / self.rate
            started = time.monotonic()
            tasks = [
                asyncio.create_task(self._converse(http, c, per_conversation, started, duration))
                for c in range(self.conversations)
            ]
            await asyncio.gather(*tasks)

    async def _converse(
        self,
        http: aiohttp.ClientSession,
        c: int,
        interval: float,
        started: float,
        duration: float | None,
    ) -> None:
        seq = 0
        await asyncio.sleep(interval * c / self.conversations)
        while not self._stop.is_set() and c not in self._quiet:
            if duration is not None and time.monotonic() - started > duration:
                return
            await self._deliver(http, c, seq)
            seq += 1
            await asyncio.sleep(interval)

    async def _deliver(self, http: aiohttp.ClientSession, c: int, seq: int) -> None:
        conversation = f"{self.run_id}-c{c}"
        item = Sent(f"{conversation}-m{seq}", conversation, seq, time.monotonic())
        self.sent.append(item)
        body = json.dumps(
            {
                "id": item.event_id,
                "conversation_id": conversation,
                "user_id": f"u-{conversation}",
                "text": f"{conversation} m{seq}",
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Frontdesk-Signature": sign(self.secret, body),
        }
        delay = 0.1
        while True:
            self._turn += 1
            target = self._turn % len(self.ports)
            port = self.ports[target]
            address = self.addresses[target] if self.addresses else "127.0.0.1"
            try:
                async with http.post(
                    f"http://{address}:{port}/webhooks/api", data=body, headers=headers
                ) as resp:
                    if resp.status == 200:
                        item.accepted_at = time.monotonic()
                        return
                    self.refused[str(resp.status)] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.refused[type(exc).__name__] += 1
            item.refusals += 1
            await asyncio.sleep(delay)  # the platform's retry
            delay = min(delay * 2, 1.0)


@dataclass(frozen=True)
class Figures:
    accepted: int
    answered: int
    lost: int
    doubled: int
    out_of_order: int
    refused: dict[str, int]
    during_fault: int = 0  # messages first sent while the fault lasted
    recovered_in: float | None = None  # seconds from the fault to the last answer

    def line(self, name: str) -> str:
        refused = ", ".join(f"{k}: {v}" for k, v in sorted(self.refused.items())) or "none"
        recovered = "-" if self.recovered_in is None else f"{self.recovered_in:.1f} s"
        return (
            f"FIGURES {name}: accepted {self.accepted} (sent during the fault "
            f"{self.during_fault}), answered {self.answered}, lost {self.lost}, doubled "
            f"{self.doubled}, out of order {self.out_of_order}; refused: {refused}; "
            f"all answered {recovered} after the fault began"
        )


def figures(
    traffic: Traffic,
    delivered: list[Any],
    *,
    fault_at: float | None = None,
    fault_end: float | None = None,
    arrivals: list[float] | None = None,
) -> Figures:
    """Compare the acknowledged messages with the replies (``echo: <text>``) delivered."""
    accepted = [s for s in traffic.sent if s.accepted_at is not None]
    by_event: collections.Counter[str] = collections.Counter(
        r.get("in_reply_to") for r in delivered
    )
    answered = sum(1 for s in accepted if by_event[s.event_id] > 0)
    doubled = sum(n - 1 for e, n in by_event.items() if n > 1 and e is not None)
    seqs: dict[str, list[int]] = collections.defaultdict(list)
    for reply in delivered:
        text = str(reply.get("text", ""))
        conversation, _, m = text.removeprefix("echo: ").rpartition(" m")
        if m.isdigit():
            seqs[conversation].append(int(m))
    out_of_order = sum(
        1 for values in seqs.values() for a, b in itertools.pairwise(values) if b < a
    )
    during = 0
    if fault_at is not None:
        end = fault_end if fault_end is not None else float("inf")
        during = sum(1 for s in traffic.sent if fault_at <= s.first_try <= end)
    recovered = None
    if fault_at is not None and arrivals:
        recovered = max(arrivals) - fault_at
    return Figures(
        accepted=len(accepted),
        answered=answered,
        lost=len(accepted) - answered,
        doubled=doubled,
        out_of_order=out_of_order,
        refused=dict(traffic.refused),
        during_fault=during,
        recovered_in=recovered,
    )

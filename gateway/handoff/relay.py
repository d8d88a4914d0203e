"""The handoff's hooks into ingest and the outbox.

- Ingest: an agent's event names the card's Slack thread; :meth:`HandoffRelay.resolve` finds the
  customer conversation it belongs to (the thread map in Redis), so the event is queued in that
  customer's lane (and deduplicated there). A thread that is no handoff's is dropped.
- Outbox, before a send: a thread post, card update or ephemeral names its card by key; the
  card's Slack ``ts`` is filled in (the card is earlier in the same outbox, so it went first).
- Outbox, after a send: a posted card's ``ts`` is recorded with the thread map; a relayed agent
  reply is marked "sent" in the thread, and remembered by its platform id for the delivery
  report. After a relayed reply is given up (dead letter), the failure is posted in the thread.
"""

from __future__ import annotations

import dataclasses
import json

from pydantic import TypeAdapter

from channels.base import SendError
from common.logging import get_logger
from common.messages import (
    AgentEvent,
    CustomerRef,
    InboundEvent,
    OutboundMessage,
    encode_outbound,
)
from gateway.handoff.desk import HandoffDesk
from gateway.handoff.state import HandoffState, handoff_of
from gateway.handoff.store import HandoffStore
from gateway.sessions import decode_session
from gateway.store import Store

THREAD_CUSTOMER = "slack_thread"  # the customer channel of an agent event not yet resolved
_customer: TypeAdapter[CustomerRef] = TypeAdapter(CustomerRef)


class HandoffRelay:
    def __init__(self, *, desk: HandoffDesk, store: Store, hstore: HandoffStore) -> None:
        self.desk = desk
        self.store = store
        self.hstore = hstore

    # ----------------------------------------------------------------- ingest

    async def resolve(self, event: InboundEvent) -> InboundEvent | None:
        if not isinstance(event, AgentEvent) or event.customer.channel != THREAD_CUSTOMER:
            return event
        thread = event.conversation.thread_id
        # StoreUnavailable from the store: the webhook answers 503 and Slack retries.
        found = await self.hstore.thread(thread) if thread else None
        if found is None:
            get_logger(channel="slack").info("agent_event_outside_handoff", thread=thread)
            return None
        _, customer = found
        return dataclasses.replace(event, customer=_customer.validate_json(customer))

    # ----------------------------------------------------------------- outbox

    async def prepare(self, key: str, message: OutboundMessage) -> OutboundMessage:
        if message.anchor is None:
            return message
        ts = await self.hstore.card_ts(key, message.anchor)
        if ts is None:
            raise SendError("transient", "the handoff card has not been posted yet")
        if message.purpose == "card_update":
            return dataclasses.replace(message, target=ts)
        conversation = dataclasses.replace(message.conversation, thread_id=ts)
        return dataclasses.replace(message, conversation=conversation)

    async def sent(self, key: str, message: OutboundMessage, platform_id: str) -> None:
        if message.purpose == "card":
            customer = json.dumps(_customer.dump_python(message.customer, mode="json"))
            await self.hstore.record_card(key, message.key, platform_id, customer)
            return
        if message.relay_of is None or message.purpose != "reply":
            return
        if platform_id:
            await self.hstore.record_relay(key, platform_id, message.relay_of)
        state = await self._state(key)
        if state is not None:
            mark = self.desk.posts.sent_mark(f"{message.key}#sent", state, message.relay_of)
            await self.store.append_outbound(key, [encode_outbound(mark)])

    async def failed(self, key: str, message: OutboundMessage, error: str) -> None:
        if message.relay_of is None or message.purpose != "reply":
            return
        state = await self._state(key)
        if state is None:
            return
        keys = iter(f"{message.key}#failed{n}" for n in range(10))
        posts = self.desk.posts.failure_posts(lambda: next(keys), state, message.relay_of, error)
        await self.store.append_outbound(key, [encode_outbound(p) for p in posts])

    async def _state(self, key: str) -> HandoffState | None:
        stored = await self.store.load_session(key)
        return handoff_of(decode_session(stored.data)) if stored else None

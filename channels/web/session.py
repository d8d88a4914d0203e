"""One widget connection: the WebSocket handshake, the visitor's identity, and the two
directions of a conversation.

Inbound, each message is appended to the conversation log (once per client message id), queued
through the same ingest as every webhook, and only then acknowledged; a resend after a
reconnect is a duplicate, never a second turn. Outbound, the socket pushes every log entry after
the last one the widget has seen: the replay on (re)connect and the live replies are one read.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from channels.web.log import Signal
from channels.web.protocol import (
    Hello,
    ProtocolError,
    Said,
    customer_entry,
    entry_frame,
    frame,
    parse_frame,
)
from channels.web.tokens import TokenError, Visitor, verify_user
from common.errors import StoreUnavailable
from common.logging import get_logger
from common.messages import ConversationRef, CustomerMessage, CustomerRef
from common.tasks import cancel_and_wait

if TYPE_CHECKING:
    from channels.web.adapter import WebChannel

HELLO_TIMEOUT = 10.0
MAX_FRAME = 64 * 1024
CLOSE_REFUSED = 4003  # identity refused: the widget does not reconnect
CLOSE_LIMITED = 4029


class Refused(Exception):
    def __init__(self, code: str, message: str, close: int) -> None:
        super().__init__(message)
        self.code, self.message, self.close = code, message, close


class Connection:
    def __init__(self, channel: WebChannel, ws: web.WebSocketResponse, ip: str) -> None:
        self.channel = channel
        self.ws = ws
        self.ip = ip
        self.visitor: Visitor | None = None
        self.name: str | None = None
        self.cursor: str | None = None
        self._wake = asyncio.Event()
        self._typing = False  # a typing signal to pass on
        self._unread = True  # the log may hold entries after the cursor (the replay, first)
        self.log = get_logger(channel="web")

    # ---------------------------------------------------------------- lifecycle
    async def run(self) -> None:
        try:
            async with asyncio.timeout(HELLO_TIMEOUT):
                message = await self.ws.receive()
            if message.type != WSMsgType.TEXT:
                return
            hello = parse_frame(message.data, max_chars=self.channel.settings.max_message_chars)
            if not isinstance(hello, Hello):
                raise ProtocolError("bad_request", "the first frame is a hello")
            token = self._identify(hello)
        except TimeoutError:
            await self.ws.close(code=4008, message=b"no hello")
            return
        except ProtocolError as exc:
            await self._error(exc.code, exc.message)
            await self.ws.close(code=4400, message=b"bad hello")
            return
        except Refused as exc:
            self.channel.stats[exc.code] += 1
            self.log.warning("web_refused", reason=exc.code, detail=exc.message)
            await self._error(exc.code, exc.message)
            await self.ws.close(code=exc.close, message=exc.code.encode())
            return
        assert self.visitor is not None
        conversation = self.visitor.conversation
        self.log = self.log.bind(conversation_id=f"web:{conversation}")
        await self.ws.send_str(frame("welcome", token=token, conversation=conversation))
        self.cursor = hello.after
        stop = await self.channel.log.listen(conversation, self._signalled)
        pump = asyncio.create_task(self._pump())
        self._wake.set()  # the replay
        try:
            await self._receive()
        except ConnectionResetError:
            pass  # the widget went away mid-send; it replays what it missed when back
        finally:
            stop()
            with contextlib.suppress(ConnectionResetError):
                await cancel_and_wait(pump)  # not a bare cancel(): see common/tasks.py

    def _identify(self, hello: Hello) -> str | None:
        """Who this is; the (refreshed) visitor token for an anonymous visitor."""
        settings, tokens = self.channel.settings, self.channel.tokens
        self.name = hello.user_name
        if hello.user_id is not None or hello.user_hash is not None:
            try:
                user = verify_user(settings.identity_secret, hello.user_id, hello.user_hash)
            except TokenError as exc:
                raise Refused("identity_refused", str(exc), CLOSE_REFUSED) from None
            digest = hashlib.sha256(user.encode()).hexdigest()[:32]
            self.visitor = Visitor(conversation=f"u-{digest}", user_id=user, verified_user=True)
            return None
        visitor_id = None
        if hello.token is not None:
            with contextlib.suppress(TokenError):
                visitor_id = tokens.verify(hello.token)
        if visitor_id is None:
            if not self.channel.new_conversations.take(self.ip):
                raise Refused("rate_limited", "too many new conversations", CLOSE_LIMITED)
            token = tokens.issue()
            visitor_id = tokens.verify(token)
        else:
            token = tokens.issue(visitor_id)
        self.visitor = Visitor(conversation=f"v-{visitor_id}", user_id=visitor_id)
        return token

    # ----------------------------------------------------------------- inbound
    async def _receive(self) -> None:
        max_chars = self.channel.settings.max_message_chars
        async for message in self.ws:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                said = parse_frame(message.data, max_chars=max_chars)
            except ProtocolError as exc:
                await self._error(exc.code, exc.message, exc.client_id)
                continue
            if not isinstance(said, Said):
                await self._error("bad_request", "one hello per connection")
                continue
            try:
                await self._said(said)
            except ProtocolError as exc:
                await self._error(exc.code, exc.message, exc.client_id)
            except StoreUnavailable as exc:  # nothing acknowledged: the widget sends it again
                self.log.warning("web_store_unavailable", error=str(exc))
                await self._error("unavailable", "please retry", said.client_id)

    async def _said(self, said: Said) -> None:
        assert self.visitor is not None
        conversation = self.visitor.conversation
        channel = self.channel
        if not channel.visitor_messages.take(conversation) or not channel.ip_messages.take(self.ip):
            raise ProtocolError("rate_limited", "too many messages", said.client_id)
        await channel.log.append(conversation, said.client_id, customer_entry(said, name=self.name))
        event = CustomerMessage(
            event_id=f"web:{conversation}:{said.client_id}",
            conversation=ConversationRef(channel="web", chat_id=conversation),
            customer=CustomerRef(channel="web", user_id=conversation, display_name=self.name),
            text=said.text if said.payload is None else "",
            button_payload=said.payload,
        )
        outcome = await channel.accept(event)
        status = "duplicate" if outcome == "duplicate" else "queued"
        await self.ws.send_str(frame("ack", client_id=said.client_id, status=status))
        if status == "queued":
            with contextlib.suppress(StoreUnavailable):
                await channel.log.signal(conversation, {"kind": "typing"})

    # ---------------------------------------------------------------- outbound
    def _signalled(self, signal: Signal) -> None:
        if signal.get("kind") == "typing":
            self._typing = True
        else:
            self._unread = True
        self._wake.set()

    async def _pump(self) -> None:
        """Push what the widget has not seen, whenever the log says there is more."""
        assert self.visitor is not None
        conversation, limit = self.visitor.conversation, self.channel.settings.history
        synced = False
        while not self.ws.closed:
            await self._wake.wait()
            self._wake.clear()
            if self._typing:
                self._typing = False
                await self.ws.send_str(frame("typing"))
            if not self._unread:
                continue
            self._unread = False
            while True:
                try:
                    rows = await self.channel.log.read(conversation, self.cursor, limit)
                except StoreUnavailable:
                    # Read again on the next signal: the reader sends one to every socket once
                    # Redis is back.
                    self._unread = True
                    break
                for entry_id, entry in rows:
                    await self.ws.send_str(entry_frame(entry_id, entry))
                    self.cursor = entry_id
                if len(rows) < limit:
                    break
            if not synced and not self._unread:
                # The replay is complete: the widget resends what is unacknowledged.
                synced = True
                await self.ws.send_str(frame("synced"))

    async def _error(self, code: str, message: str, client_id: str | None = None) -> None:
        if not self.ws.closed:
            await self.ws.send_str(frame("error", code=code, message=message, client_id=client_id))

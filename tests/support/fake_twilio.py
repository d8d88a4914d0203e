"""Twilio's side, for tests: a fake REST API (the Messages resource, recording every request)
and signed webhooks (the fixtures in tests/payloads/twilio, signed with the SDK's own signer).

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` checks HTTP Basic auth and answers
201 with a Message resource as Twilio does. ``script`` is a list of answers to give in turn
(see :func:`twilio_error`), e.g. ``[twilio_error(429, 20429, "Too Many Requests",
{"Retry-After": "1"})]``; a None in it, and every request once it runs out, is accepted.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from twilio.request_validator import RequestValidator

from tests.support.serve import serve, wait_for_count

PAYLOADS = Path(__file__).parent.parent / "payloads" / "twilio"

Answer = tuple[int, dict[str, str], dict[str, Any]]


def twilio_error(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> Answer:
    """An error answer in Twilio's JSON shape."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return status, headers or {}, body


@dataclass
class TwilioRequest:
    at: float
    path: str
    headers: dict[str, str]
    form: list[tuple[str, str]]
    auth: tuple[str, str] | None
    status: int
    sid: str | None = None

    def field(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.form if k == name]

    @property
    def fields(self) -> dict[str, str]:
        return dict(self.form)


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    script: list[Answer | None] = field(default_factory=list)
    requests: list[TwilioRequest] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def accepted(self) -> list[TwilioRequest]:
        """Messages Twilio accepted (201), in arrival order."""
        return [r for r in self.requests if r.status == 201]

    def _auth(self, request: web.Request) -> tuple[str, str] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user, password

    async def messages(self, request: web.Request) -> web.Response:
        form = [(k, str(v)) for k, v in (await request.post()).items()]
        auth = self._auth(request)
        sid: str | None = None
        if auth != (self.account_sid, self.auth_token):
            status, headers, body = twilio_error(401, 20003, "Authenticate")
        elif request.match_info["account"] != self.account_sid:
            status, headers, body = twilio_error(404, 20404, "The requested resource was not found")
        elif answer := (self.script.pop(0) if self.script else None):
            status, headers, body = answer
        else:
            status, headers, body = 201, {}, self._message(dict(form), form)
            sid = body["sid"]
        self.requests.append(
            TwilioRequest(
                at=time.monotonic(),
                path=request.path,
                headers=dict(request.headers),
                form=form,
                auth=auth,
                status=status,
                sid=sid,
            )
        )
        self.arrived.set()
        return web.json_response(body, status=status, headers=headers)

    def _message(self, fields: dict[str, str], form: list[tuple[str, str]]) -> dict[str, Any]:
        media = [v for k, v in form if k == "MediaUrl"]
        sid = ("MM" if media else "SM") + uuid.uuid4().hex
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": fields.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": fields.get("From"),
            "messaging_service_sid": fields.get("MessagingServiceSid"),
            "num_media": str(len(media)),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if "From" in fields else "accepted",
            "subresource_uris": {"media": f"{base}/Media.json"},
            "to": fields.get("To"),
            "uri": f"{base}.json",
        }

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[TwilioRequest]:
        """Wait until ``count`` messages were accepted; return them."""
        return await wait_for_count(
            self.arrived, lambda: self.accepted, count, timeout, "accepted messages"
        )


async def start_fake_twilio(fake: FakeTwilio) -> tuple[web.AppRunner, str]:
    """Serve ``fake`` on a free loopback port; returns the runner and the base URL."""
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", fake.messages)
    return await serve(app)


def fixture_params(name: str, **changes: str | None) -> dict[str, str]:
    """The POST parameters of ``tests/payloads/twilio/<name>.form.txt``, in order, with
    ``changes`` applied (None removes a parameter)."""
    text = (PAYLOADS / f"{name}.form.txt").read_text().strip()
    params = dict(parse_qsl(text, keep_blank_values=True))
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return params


def signed_webhook(
    auth_token: str, url: str, params: dict[str, str]
) -> tuple[bytes, dict[str, str]]:
    """A form body and the headers Twilio sends with it, signed for ``url``."""
    signature = RequestValidator(auth_token).compute_signature(url, params)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
        "I-Twilio-Idempotency-Token": uuid.uuid4().hex,
    }
    return urlencode(params).encode(), headers

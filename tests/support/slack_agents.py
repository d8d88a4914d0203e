"""The agents' side of Slack, for handoff tests: a fake workspace that also answers
``chat.update``, ``chat.postEphemeral`` and ``reactions.add`` (and can be taken down), serves
shared files at ``url_private``-style URLs to the bot token only (:func:`start_workspace`), and
signed events as Slack sends them from the agents' channel (thread replies, button presses).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.fake_slack import FakeSlack, Reply, form_body, signed_headers
from tests.support.serve import serve

AGENTS = "CAGENTS"
SECRET = "handoff-signing-secret"
TOKEN = "xoxb-handoff-test"


@dataclass
class SlackWorkspace(FakeSlack):
    down: bool = False  # every call answers 503 (an outage)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path -> (type, bytes)
    file_fetches: list[dict[str, str]] = field(default_factory=list)  # headers of each GET

    def share_file(self, name: str, content: bytes, mimetype: str) -> dict[str, Any]:
        """A file as Slack describes it in a ``file_share`` message; its ``url_private`` is
        served by this workspace (with the bot token)."""
        file_id = f"F{len(self.files) + 1:08d}"
        path = f"/files-pri/T111-{file_id}/{name}"
        self.files[path] = (mimetype, content)
        origin = self.base_url.removesuffix("/api/")
        return {
            "id": file_id,
            "name": name,
            "mimetype": mimetype,
            "url_private": origin + path,
            "url_private_download": f"{origin}/files-pri/T111-{file_id}/download/{name}",
        }

    async def serve_file(self, request: web.Request) -> web.StreamResponse:
        """As files.slack.com: the file to the bot token, the sign-in page to anyone else."""
        self.file_fetches.append(dict(request.headers))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(text="<html>Sign in to Slack</html>", content_type="text/html")
        found = self.files.get(request.path)
        if found is None:
            return web.Response(status=404, text="file not found")
        mimetype, content = found
        return web.Response(body=content, content_type=mimetype)

    def _answer(self, method: str, auth: str | None, body: Any) -> Reply:
        if self.down:
            return Reply(status=503, body="service unavailable")
        if auth != f"Bearer {self.token}":
            return Reply(body={"ok": False, "error": "invalid_auth"})
        if method == "chat.update":
            return Reply(body={"ok": True, "channel": body["channel"], "ts": body["ts"]})
        if method == "chat.postEphemeral":
            return Reply(body={"ok": True, "message_ts": f"{time.time():.6f}"})
        if method == "reactions.add":
            return Reply(body={"ok": True})
        return super()._answer(method, auth, body)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """As Slack's; a method called with query parameters (``reactions.add``: slack_sdk
        sends ``params``) is recorded with them."""
        response = await super().handle(request)
        if request.query and self.calls:
            body = self.calls[-1].body
            self.calls[-1].body = {
                **dict(request.query),
                **(body if isinstance(body, dict) else {}),
            }
        return response

    def ok_calls(self, method: str) -> list[dict[str, Any]]:
        return [c.body for c in self.calls if c.method == method and c.ok]

    def cards(self) -> list[dict[str, Any]]:
        return [p for p in self.posts() if p.get("blocks") and p["blocks"][0]["type"] == "header"]

    def thread(self, ts: str) -> list[str]:
        """Texts posted in the thread of ``ts``, in order."""
        return [p["text"] for p in self.posts() if p.get("thread_ts") == ts]

    def reactions(self) -> list[tuple[str, str]]:
        return [(c["timestamp"], c["name"]) for c in self.ok_calls("reactions.add")]

    def ephemerals(self) -> list[tuple[str, str]]:
        return [(c["user"], c["text"]) for c in self.ok_calls("chat.postEphemeral")]


async def start_workspace(workspace: SlackWorkspace) -> web.AppRunner:
    """Serve the Web API (as ``start_fake_slack``) and, on the same host, the shared files;
    sets ``workspace.base_url`` (ending in ``/api/``)."""
    app = web.Application()
    app.router.add_post("/api/{method}", workspace.handle)
    app.router.add_get("/files-pri/{path:.+}", workspace.serve_file)
    runner, base = await serve(app)
    workspace.base_url = f"{base}/api/"
    return runner


def thread_reply(
    text: str,
    *,
    user: str,
    thread_ts: str,
    ts: str,
    event_id: str,
    channel: str = AGENTS,
    files: list[dict[str, Any]] | None = None,
) -> bytes:
    """An Events API ``message`` in a thread, shaped like Slack's own (payloads/slack/03)."""
    event: dict[str, Any] = {
        "user": user,
        "type": "message",
        "ts": ts,
        "text": text,
        "team": "T111",
        "thread_ts": thread_ts,
        "parent_user_id": "UBOT1",
        "channel": channel,
        "event_ts": ts,
        "channel_type": "channel",
    }
    if files:
        event["files"] = files
        event["subtype"] = "file_share"
    return json.dumps(
        {
            "token": "verification_token",
            "team_id": "T111",
            "api_app_id": "A111",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "team_id": "T111",
                    "user_id": "UBOT1",
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
        }
    ).encode()


def button_press(
    value: str, *, user: str, name: str, card_ts: str, action_ts: str, channel: str = AGENTS
) -> bytes:
    """An interactivity ``block_actions`` body for a card's button (payloads/slack/07)."""
    return form_body(
        {
            "type": "block_actions",
            "user": {"id": user, "username": name, "name": name, "team_id": "T111"},
            "api_app_id": "A111",
            "token": "verification_token",
            "container": {
                "type": "message",
                "message_ts": card_ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": f"{action_ts}.trigger",
            "team": {"id": "T111", "domain": "example"},
            "channel": {"id": channel, "name": "support-agents"},
            "message": {"type": "message", "ts": card_ts, "bot_id": "BBOT1"},
            "response_url": "https://hooks.slack.com/actions/T111/1/x",
            "actions": [
                {
                    "action_id": value.replace(":", "-"),
                    "block_id": "fd-handoff",
                    "text": {"type": "plain_text", "text": value, "emoji": True},
                    "value": value,
                    "type": "button",
                    "action_ts": action_ts,
                }
            ],
        }
    )


def signed(body: bytes, *, form: bool = False, retry: int | None = None) -> dict[str, str]:
    headers = signed_headers(body, SECRET, form=form)
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers

"""The website chat in a real headless Chromium: the full page a newcomer opens after
``frontdesk run``, the widget embedded on a site, a handoff to a (fake) Slack agent, and the
attacks a public chat box gets. Elements are found by role and label, as a person would."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Dialog, expect

from channels.web import WebChannel, user_hash
from common.messages import Attachment, ConversationRef, CustomerRef, CustomerReply
from frontdesk.app import create_app
from frontdesk.config import Settings
from gateway.http import GATEWAY
from tests.channels.web.browser import browser
from tests.channels.web.support import IDENTITY_SECRET, WebDialog, web_settings
from tests.support.serve import serve
from tests.support.slack_agents import (
    SECRET,
    TOKEN,
    SlackWorkspace,
    button_press,
    signed,
    start_workspace,
    thread_reply,
)
from tests.support.waiting import until

__all__ = ["browser"]
Server = Any


def channel_of(server: TestServer) -> WebChannel:
    channel = server.app[GATEWAY].channels["web"]  # type: ignore[index]
    assert isinstance(channel, WebChannel)
    return channel


async def test_a_newcomer_chats_with_the_example_bot_on_the_full_page(
    aiohttp_server: Server, browser: Browser
) -> None:
    """The embedded defaults: memory:// store, the example bot, no secrets configured."""
    settings = Settings.model_validate({"dialogs": {"enabled": True, "hot_reload": False}})
    server: TestServer = await aiohttp_server(create_app(settings))
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(str(server.make_url("/")))
    log = page.get_by_role("log")
    box = page.get_by_label("Your message")
    await expect(box).to_be_focused()
    await box.fill("hi")
    await box.press("Enter")
    await expect(log).to_contain_text("Northwind Goods assistant")
    await box.fill("how do I return an item?")
    await page.get_by_role("button", name="Send").click()
    await page.get_by_role("button", name="Refund status").click()
    await expect(log).to_contain_text("Refunds are issued")
    messages = log.locator(".fd-msg")
    await expect(messages).to_have_count(6)

    await page.reload()  # the history, once
    await expect(log).to_contain_text("Refunds are issued")
    await expect(messages).to_have_count(6)
    await expect(log.get_by_text("how do I return an item?")).to_have_count(1)

    # The server drops the socket; the customer writes while the widget reconnects.
    await channel_of(server).disconnect_all()
    await expect(page.get_by_role("status")).to_have_text("Connection lost. Reconnecting…")
    await box.fill("thank you")
    await box.press("Enter")
    await expect(messages).to_have_count(8)
    await expect(log.get_by_text("thank you")).to_have_count(1)

    second = await context.new_page()  # a second tab: the same conversation
    await second.goto(str(server.make_url("/")))
    await expect(second.get_by_role("log").locator(".fd-msg")).to_have_count(8)
    await second.get_by_label("Your message").fill("bye")
    await second.get_by_label("Your message").press("Enter")
    await expect(messages).to_have_count(10)  # seen live in the first tab
    await expect(log.get_by_text("bye", exact=True)).to_have_count(1)
    ids = await messages.evaluate_all("nodes => nodes.map(n => n.dataset.id)")
    assert len(set(ids)) == 10


async def test_an_agents_reply_from_slack_appears_live_and_attacks_show_as_text(
    aiohttp_server: Server, redis_url: str, browser: Browser
) -> None:
    workspace = SlackWorkspace(token=TOKEN)
    runner = await start_workspace(workspace)
    slack = {"bot_token": TOKEN, "signing_secret": SECRET, "api_base_url": workspace.base_url}
    app = create_app(web_settings(redis_url, slack=slack), dialog=WebDialog())
    server: TestServer = await aiohttp_server(app)
    page = await browser.new_page()
    alerts: list[str] = []
    dismissing: list[asyncio.Future[None]] = []

    def on_dialog(dialog: Dialog) -> None:
        alerts.append(dialog.message)
        dismissing.append(asyncio.ensure_future(dialog.dismiss()))

    page.on("dialog", on_dialog)
    await page.goto(str(server.make_url("/")))
    log, box = page.get_by_role("log"), page.get_by_label("Your message")
    for attack in ("<img src=x onerror=alert(1)>", "javascript:alert(1)"):
        await box.fill(attack)
        await box.press("Enter")
        await expect(log.get_by_text(f"echo: {attack}")).to_have_count(1)
    await box.fill("agent")
    await box.press("Enter")
    await expect(log).to_contain_text("Let me get you a person.")

    cards = await until(workspace.cards)
    card_ts = next(
        str(c.answer["ts"])
        for c in workspace.calls
        if c.method == "chat.postMessage" and c.ok and c.body is cards[0]
    )
    async with aiohttp.ClientSession() as http:

        async def slack_event(body: bytes, *, form: bool = False) -> None:
            url = server.make_url("/webhooks/slack")
            async with http.post(url, data=body, headers=signed(body, form=form)) as resp:
                assert resp.status == 200

        now = f"{time.time():.6f}"
        claim = button_press(
            "handoff:claim", user="UALICE", name="alice", card_ts=card_ts, action_ts=now
        )
        await slack_event(claim, form=True)
        await expect(log).to_contain_text("You're now talking with Alice.")
        text = "I'm here <img src=x onerror=alert(2)> javascript:alert(3) https://example.com/help"
        reply = thread_reply(
            text, user="UALICE", thread_ts=card_ts, ts=f"{time.time():.6f}", event_id="Ev1"
        )
        await slack_event(reply)
        agent = log.locator(".fd-agent").last
        await expect(agent).to_contain_text(text)
        await expect(agent.locator(".fd-who")).to_have_text("Alice")
        resolve = button_press(
            "handoff:resolve", user="UALICE", name="alice", card_ts=card_ts, action_ts=now + "1"
        )
        await slack_event(resolve, form=True)
        await expect(log).to_contain_text("How would you rate the help you got")
    assert await log.locator("img").count() == 0
    links = await log.get_by_role("link").evaluate_all("nodes => nodes.map(n => n.href)")
    assert links == ["https://example.com/help"]
    assert alerts == []
    await runner.cleanup()


HOST_PAGE = """<!doctype html><html><head><title>Shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>A shop</h1><script src="{src}" {attrs} async></script></body></html>"""


async def start_site(embed: dict[str, str]) -> tuple[web.AppRunner, str]:
    """Another site (its own origin) whose pages embed the widget with one script tag;
    ``/account?user=ID&hash=H`` embeds it for a logged-in user."""

    async def page(request: web.Request) -> web.Response:
        q, attrs = request.query, ""
        if "user" in q:
            attrs = f'data-user-id="{q["user"]}" data-user-hash="{q["hash"]}"'
        body = HOST_PAGE.format(src=embed["src"], attrs=attrs)
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{path:.*}", page)
    return await serve(app)


async def test_the_widget_embedded_on_a_site_by_keyboard_on_a_small_screen(
    aiohttp_server: Server, redis_url: str, browser: Browser
) -> None:
    embed: dict[str, str] = {}
    shop_runner, shop = await start_site(embed)
    evil_runner, evil_site = await start_site(embed)
    settings = web_settings(redis_url, allowed_origins=[shop])
    server: TestServer = await aiohttp_server(create_app(settings, dialog=WebDialog()))
    embed["src"] = str(server.make_url("/widget.js"))
    page = await browser.new_page(viewport={"width": 360, "height": 640})
    await page.goto(f"{shop}/")
    launcher = page.get_by_role("button", name="Open chat")
    await page.keyboard.press("Tab")
    await expect(launcher).to_be_focused()
    await page.keyboard.press("Enter")
    box = page.get_by_label("Your message")
    await expect(box).to_be_focused()
    await page.keyboard.type("hello")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("log")).to_contain_text("echo: hello")
    send = page.get_by_role("button", name="Send")
    box_at = await send.bounding_box()
    assert box_at is not None and box_at["x"] + box_at["width"] <= 360
    await page.keyboard.press("Escape")
    await expect(box).to_be_hidden()
    await expect(launcher).to_be_focused()

    # A reply while the panel is closed: the launcher shows it unread.
    token = await page.evaluate(
        f"localStorage.getItem('frontdesk:{server.make_url('/').origin()}:token')"
    )
    conversation = "v-" + token.split(".")[1]
    await channel_of(server).send(
        CustomerReply(
            key="later#0",
            conversation=ConversationRef(channel="web", chat_id=conversation),
            customer=CustomerRef(channel="web", user_id=conversation),
            text="Your parcel left the warehouse.",
            attachments=(
                Attachment(kind="image", url=f"{shop}/parcel.png", name="Your parcel"),
                Attachment(kind="file", url=f"{shop}/label.pdf", name="label.pdf"),
                Attachment(kind="file", url="javascript:alert(1)", name="evil"),
            ),
        )
    )
    await expect(page.get_by_role("button", name="Open chat (1 unread)")).to_be_visible()
    await page.get_by_role("button", name="Open chat (1 unread)").click()
    await expect(page.get_by_role("log")).to_contain_text("Your parcel left the warehouse.")
    await expect(page.get_by_role("img", name="Your parcel")).to_be_visible()
    file_link = page.get_by_role("link", name="label.pdf")
    await expect(file_link).to_have_attribute("href", f"{shop}/label.pdf")
    await expect(page.get_by_role("link", name="evil")).to_have_count(0)

    # Another site may not use this gateway's chat.
    evil = await browser.new_page()
    await evil.goto(f"{evil_site}/")
    await evil.get_by_role("button", name="Open chat").click()
    await expect(evil.get_by_role("status")).to_have_text("Connection lost. Reconnecting…")
    assert channel_of(server).stats["origin_refused"] >= 1

    # A logged-in user whose hash was not made with the site's secret is refused.
    forged = await browser.new_page()
    await forged.goto(f"{shop}/account?user=user-1&hash={user_hash('wrong', 'user-1')}")
    await forged.get_by_role("button", name="Open chat").click()
    await expect(forged.get_by_role("alert")).to_have_text(
        "We could not verify who you are. Please sign in again."
    )
    # … and one with the right hash talks.
    good = await browser.new_page()
    await good.goto(f"{shop}/account?user=user-1&hash={user_hash(IDENTITY_SECRET, 'user-1')}")
    await good.get_by_role("button", name="Open chat").click()
    await good.get_by_label("Your message").fill("signed in")
    await good.get_by_label("Your message").press("Enter")
    await expect(good.get_by_role("log")).to_contain_text("echo: signed in")
    await shop_runner.cleanup()
    await evil_runner.cleanup()

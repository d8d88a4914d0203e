"""The console in a real headless Chromium (Debian's chromium, Playwright): log in, read the
overview's chart of real conversations, drill down from a bar to the conversations, open a
transcript, label and apply a review item, export the list as CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import os
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, expect

from tests.channels.web.browser import browser
from tests.console.conftest import ADMIN, Project, open_console, run_conversations
from tests.handoff.conftest import Desk
from tests.support.waiting import until

__all__ = ["browser"]
Client = Any


async def test_an_admin_reads_drills_down_labels_and_exports(
    desk: Desk, aiohttp_client: Client, redis_url: str, project: Project, browser: Browser
) -> None:
    client = await open_console(desk, aiohttp_client, redis_url, project)
    await run_conversations(desk)
    base = str(client.make_url("/console/"))
    context = await browser.new_context(
        accept_downloads=True, viewport={"width": 1366, "height": 900}
    )
    page = await context.new_page()

    await page.goto(base)  # not logged in: the login form
    await expect(page).to_have_url(base + "login?next=/console/")
    await page.get_by_label("User name").fill(ADMIN[0])
    await page.get_by_label("Password").fill(ADMIN[1])
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    async def settled() -> bool:  # the background pipeline has recorded every conversation
        await page.reload()
        return await page.locator('[data-figure="conversations"]').text_content() == "3" and (
            await page.locator('svg[data-chart="outcomes"] rect.bar').count() == 2
        )

    await until(settled)
    await expect(page.locator('[data-figure="containment"]')).to_have_text("33%")
    await expect(page.locator('[data-figure="handoffs"]')).to_have_text("2")
    bar = page.locator('svg[data-chart="handoffs"] rect.bar[data-label="keyword"]')
    await expect(bar).to_have_attribute("data-value", "2")
    conversations = page.locator('svg[data-chart="conversations"] rect.bar')
    assert await conversations.count() >= 1
    if os.environ.get("FRONTDESK_CONSOLE_SCREENSHOT"):
        await page.screenshot(path=os.environ["FRONTDESK_CONSOLE_SCREENSHOT"], full_page=False)

    await page.get_by_role("link", name="keyword: 2: open the conversations").click()
    await expect(page.get_by_role("heading", name="Conversations")).to_be_visible()
    rows = page.locator("table.list tbody tr")
    await expect(rows).to_have_count(2)
    await expect(page.get_by_role("status")).to_contain_text("2 conversations with trigger keyword")
    await expect(rows.nth(1)).to_contain_text("telegram:1111111")
    await expect(rows.nth(0)).to_contain_text("tel:+15555550177")  # an admin: unmasked

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download (CSV)").click()
    download = await download_info.value
    text = await asyncio.to_thread(Path(await download.path()).read_text)
    exported = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["conversation"] for r in exported) == ["tel:+15555550177", "telegram:1111111"]

    await page.get_by_role("link", name="telegram:1111111").click()
    transcript = page.locator("ol.transcript")
    said = transcript.locator("li.entry.in", has_text="agent")
    await expect(said).to_contain_text("intent human_handoff 0.93")
    await expect(transcript.locator("li.entry.note")).to_contain_text("note: VIP customer")
    await expect(page.get_by_role("heading", name="Handoff")).to_be_visible()
    await expect(page.locator("dl.facts")).to_contain_text("by Alice")

    await page.get_by_role("link", name="Review inbox").click()
    row = page.locator("tr", has_text="hello").first
    await row.get_by_label("Label as").select_option("new_faq")
    await row.get_by_label("New answer").fill("Hello! How can I help?")
    await row.get_by_role("button", name="Save label").click()
    await expect(page.get_by_role("status")).to_contain_text("labelled")
    await page.get_by_role("button", name="Apply labels to the data").click()
    await expect(page.get_by_role("status")).to_contain_text("applied 1 item(s) to 1 file(s)")
    assert "Hello! How can I help?" in (project.kb / "faq.yml").read_text()
    await context.close()


async def test_the_live_page_follows_a_handoff_without_reload(
    desk: Desk, aiohttp_client: Client, redis_url: str, project: Project, browser: Browser
) -> None:
    client = await open_console(desk, aiohttp_client, redis_url, project)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(str(client.make_url("/console/live")))
    await page.get_by_label("User name").fill(ADMIN[0])
    await page.get_by_label("Password").fill(ADMIN[1])
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Live handoffs")).to_be_visible()
    await expect(page.locator("#waiting-count")).to_have_text("0")
    await desk.telegram_says("agent")  # the page is not reloaded from here on
    await expect(page.locator("#waiting-count")).to_have_text("1", timeout=15_000)
    await expect(page.locator("#waiting")).to_contain_text("keyword")
    await desk.press("handoff:claim", "UALICE", "alice", await desk.card_ts(1))
    await expect(page.locator("#claimed-count")).to_have_text("1", timeout=15_000)
    await expect(page.locator("#agents")).to_contain_text("Alice")
    await expect(page.locator("#waiting-count")).to_have_text("0")
    await context.close()

"""The console over HTTP: the figures after real conversations equal ``frontdesk stats``; every
route refuses without a session; CSRF, roles, masking, throttling, review labels and CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from aiohttp import web

from console.web import CONSOLE
from frontdesk.commands.stats import print_stats
from tests.console.conftest import (
    ADMIN,
    VIEWER,
    Project,
    login,
    open_console,
    overview,
    run_conversations,
)
from tests.handoff.conftest import Desk
from tests.support.waiting import until

Client = Any


async def _scripted(desk: Desk, aiohttp_client: Client, redis_url: str, project: Project) -> Any:
    client = await open_console(desk, aiohttp_client, redis_url, project)
    keys = await run_conversations(desk)
    await login(client, ADMIN)

    async def settled() -> bool:
        s = (await overview(client))["summary"]
        return sum(s["outcomes"].values()) == 2 and s["conversations"] == 3 and bool(s["csat"])

    await until(settled)
    return client, keys


async def test_overview_figures_equal_frontdesk_stats(
    desk: Desk, aiohttp_client: Client, redis_url: str, project: Project, capsys: Any
) -> None:
    client, _ = await _scripted(desk, aiohttp_client, redis_url, project)
    data = await overview(client)
    assert await print_stats(redis_url, 86400, as_json=True) == 0
    out = capsys.readouterr().out
    stats, _ = json.JSONDecoder().raw_decode(out[out.index('{\n  "since"') :])
    mine = data["summary"]
    for field in ("since", "until"):
        stats.pop(field), mine.pop(field)
    assert mine == stats
    assert mine["handoffs_by_trigger"] == {"keyword": 2}
    assert mine["outcomes"] == {"resolved": 1, "returned": 1}
    assert mine["csat"] == {"5": 1} and mine["conversations"] == 3
    assert round(mine["bot_containment"], 4) == round(1 / 3, 4)
    assert data["csat"]["split"]["agent"] == [0, 0, 0, 0, 1]
    assert data["csat"]["channels"] == {"telegram": {"counts": [0, 0, 0, 0, 1], "average": 5.0}}
    assert sum(b["conversations"] for b in data["buckets"]) >= 3
    assert {c["channel"] for c in data["channels"]} == {"telegram", "sms"}


async def test_drill_down_filters_and_transcript(
    desk: Desk, aiohttp_client: Client, redis_url: str, project: Project
) -> None:
    client, keys = await _scripted(desk, aiohttp_client, redis_url, project)

    async def find(**query: str) -> dict[str, Any]:
        resp = await client.get("/console/api/conversations", params={"preset": "24h", **query})
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())

    everyone = await find()
    assert everyone["total"] == 3
    by_key = {r["conversation"]: r for r in everyone["rows"]}
    assert set(by_key) == set(keys.values())
    assert [r["conversation"] for r in (await find(trigger="keyword"))["rows"]] == [
        keys["returned"],
        keys["rated"],
    ]
    assert [r["conversation"] for r in (await find(rating="5"))["rows"]] == [keys["rated"]]
    assert [r["conversation"] for r in (await find(outcome="bot_only"))["rows"]] == [keys["bot"]]
    assert [r["conversation"] for r in (await find(channel="sms", outcome="returned"))["rows"]] == [
        keys["returned"]
    ]
    assert [r["conversation"] for r in (await find(q="call me"))["rows"]] == [keys["bot"]]
    assert (await find(q="nobody said this"))["rows"] == []
    resp = await client.get(f"/console/api/conversations/{by_key[keys['rated']]['ref']}")
    detail = await resp.json()
    said = [(e["direction"], e["text"]) for e in detail["entries"]]
    assert ("in", "agent") in said and ("note", "[reply] // note: VIP customer") in said
    agent = next(e for e in detail["entries"] if e["text"] == "agent")
    assert (agent["intent"], agent["confidence"]) == ("human_handoff", 0.93)
    hello = next(e for e in detail["entries"] if e["text"] == "hello")
    assert hello["not_understood"] is True
    assert detail["handoff"]["agent"] == "Alice" and detail["handoff"]["csat"] == 5
    assert any("help@example.com" in t for _, t in said)  # the admin sees it unmasked


async def test_a_viewer_sees_masked_numbers_and_cannot_export_or_label(
    desk: Desk, aiohttp_client: Client, redis_url: str, project: Project
) -> None:
    client, _keys = await _scripted(desk, aiohttp_client, redis_url, project)
    await client.post("/console/logout", data={"csrf": await login(client, ADMIN)})
    csrf = await login(client, VIEWER)
    rows = (await (await client.get("/console/api/conversations?preset=24h")).json())["rows"]
    shown = {r["conversation"] for r in rows}
    assert "tel:+15555550123" not in shown and "tel:+155******23" in shown
    ref = next(r["ref"] for r in rows if r["conversation"] == "tel:+155******23")
    detail = await (await client.get(f"/console/api/conversations/{ref}")).json()
    texts = " ".join(e["text"] for e in detail["entries"])
    assert "+15555550199" not in texts and "+155******99" in texts
    rated = next(r["ref"] for r in rows if r["conversation"].startswith("telegram"))
    detail = await (await client.get(f"/console/api/conversations/{rated}")).json()
    texts = " ".join(e["text"] for e in detail["entries"])
    assert "help@example.com" not in texts and "h***@***" in texts
    for path in ("/console/export/conversations.csv?preset=24h", "/console/export/figures.csv"):
        assert (await client.get(path)).status == 403
    hidden = await client.get("/console/api/conversations", params={"preset": "24h", "q": "0199"})
    assert (await hidden.json())["rows"] == []  # a viewer cannot search for a masked number
    assert "Save label" not in await (await client.get("/console/review")).text()
    assert (await client.get("/console/audit")).status == 403
    items = (await (await client.get("/console/api/review")).json())["items"]
    resp = await client.post(
        f"/console/api/review/{items[0]['id']}/label",
        json={"as": "ignore"},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status == 403


async def test_every_route_refuses_without_a_session(
    desk: Desk, aiohttp_client: Client, redis_url: str, project: Project
) -> None:
    client = await open_console(desk, aiohttp_client, redis_url, project)
    sub: web.Application = next(
        r._app for r in client.app.router.resources() if getattr(r, "_app", None) is not None
    )
    assert CONSOLE in sub
    checked = 0
    for route in sub.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter", "")
        path = path.replace("{ref}", "0" * 20).replace("{id}", "abc").replace("{name}", "x")
        url = "/console" + path
        if url.startswith(("/console/login", "/console/static/")):
            continue
        resp = await client.request(route.method, url, allow_redirects=False)
        body = await resp.text()
        if route.method == "GET" and not url.startswith(("/console/api/", "/console/export/")):
            assert resp.status == 303, (url, resp.status)
            assert resp.headers["Location"].startswith("/console/login?next=")
        else:
            assert resp.status == 401, (route.method, url, resp.status, body)
        checked += 1
    assert checked >= 18
    home = await client.get("/console", allow_redirects=False)
    assert home.status == 303 and home.headers["Location"].startswith("/console/login")
    forged = {"fd_console": "not-a-session"}
    assert (await client.get("/console/api/overview", cookies=forged)).status == 401
    csrf = await login(client, ADMIN)
    page = await client.get("/console/")
    assert page.status == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    token = next(c.value for c in client.session.cookie_jar if c.key == "fd_console")
    out = await client.post("/console/logout", data={"csrf": csrf}, allow_redirects=False)
    assert out.status == 303
    old = {"fd_console": token}  # the logged-out session's cookie, replayed
    assert (await client.get("/console/api/overview", cookies=old)).status == 401


async def test_csrf_less_post_is_refused_and_logins_are_throttled(
    desk: Desk, aiohttp_client: Client, redis_url: str, project: Project
) -> None:
    client = await open_console(desk, aiohttp_client, redis_url, project)
    await desk.telegram_says("something odd")  # a miss for the review inbox
    csrf = await login(client, ADMIN)
    items = await until(
        lambda: _items(client),
    )
    ident = items[0]["id"]
    assert (
        await client.post(f"/console/api/review/{ident}/label", json={"as": "ignore"})
    ).status == 403
    bad = {"X-CSRF-Token": "wrong"}
    assert (await client.post(f"/console/api/review/{ident}/label", json={"as": "ignore"},
                              headers=bad)).status == 403  # fmt: skip
    assert (await client.post("/console/api/review/apply", data={"csrf": ""})).status == 403
    ok = await client.post(f"/console/api/review/{ident}/label", json={"as": "ignore"},
                           headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert ok.status == 200
    # the login form has its own token; five wrong passwords pause the name
    client.session.cookie_jar.clear()
    form = await client.get("/console/login")
    assert "fd_console_login" in {c.key for c in client.session.cookie_jar}
    refused = await client.post("/console/login", data={"user": "ada", "password": "x"})
    assert refused.status == 403  # no token
    token = (await form.text()).split('name="csrf" value="')[1].split('"')[0]
    statuses = []
    for _ in range(6):
        resp = await client.post(
            "/console/login", data={"user": "ada", "password": "wrong", "csrf": token}
        )
        statuses.append(resp.status)
    assert statuses == [401] * 5 + [429]
    right = await client.post(
        "/console/login", data={"user": "ada", "password": ADMIN[1], "csrf": token}
    )
    assert right.status == 429  # paused, even with the right password


async def _items(client: Any) -> list[dict[str, Any]]:
    return list((await (await client.get("/console/api/review")).json())["items"])


async def test_label_apply_writes_the_faq_and_exports_match(
    desk: Desk, aiohttp_client: Client, redis_url: str, project: Project
) -> None:
    client, keys = await _scripted(desk, aiohttp_client, redis_url, project)
    csrf = await login(client, ADMIN)
    items = await _items(client)
    hello = next(i for i in items if i["text"] == "hello")
    headers = {"X-CSRF-Token": csrf}
    label = {"as": "new_faq", "answer": "Hello! How can I help?", "faq_id": "hello"}
    resp = await client.post(
        f"/console/api/review/{hello['id']}/label", json=label, headers=headers
    )
    assert resp.status == 200, await resp.text()
    applied = await (
        await client.post("/console/api/review/apply", json={}, headers=headers)
    ).json()
    assert applied["written"] is True, applied
    assert hello["id"] in applied["applied"]
    faq = (project.kb / "faq.yml").read_text()
    assert "Hello! How can I help?" in faq and '"hello"' in faq
    # CSV: one row per conversation, the same as the list
    listed = await (await client.get("/console/api/conversations?preset=24h")).json()
    text = await (await client.get("/console/export/conversations.csv?preset=24h")).text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["conversation"] for r in rows) == sorted(keys.values())
    assert sorted(r["ref"] for r in rows) == sorted(r["ref"] for r in listed["rows"])
    figures = await overview(client)
    text = await (await client.get("/console/export/figures.csv?preset=24h")).text()
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["conversations"]) for r in lines] == [
        b["conversations"] for b in figures["buckets"]
    ]
    assert sum(int(r["handoffs"]) for r in lines) == figures["summary"]["handoffs"]
    page = await (await client.get("/console/audit")).text()
    assert "review_apply" in page and "ada" in page
    audit = await (await client.get("/console/export/audit.csv")).text()
    assert "review_apply" in audit and "review_label" in audit and "export" in audit


async def test_business_hours_only_counts_the_open_hours(
    desk: Desk, aiohttp_client: Client, redis_url: str, project: Project
) -> None:
    """Business hours that leave out the current hour (UTC): the conversations of this hour
    count without the toggle and not with it."""
    import time as clock

    hour = clock.gmtime().tm_hour
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[clock.gmtime().tm_wday]
    spans = [f"{h:02d}:00-{h + 1:02d}:00" for h in range(24) if h != hour]
    weekly = {day: spans}
    client = await open_console(desk, aiohttp_client, redis_url, project,
                                business_hours={"time_zone": "UTC", "weekly": weekly})  # fmt: skip
    await desk.telegram_says("hello")
    await login(client, ADMIN)

    async def counted() -> bool:
        return (await overview(client, preset="today"))["summary"]["conversations"] == 1

    await until(counted)
    only = await overview(client, preset="today", business="1")
    assert only["business_only"] is True
    assert only["summary"]["conversations"] == 0
    assert all(b["conversations"] == 0 for b in only["buckets"])


async def test_a_memory_store_gateway_says_the_console_needs_redis(aiohttp_client: Client) -> None:
    from frontdesk.app import create_app
    from frontdesk.config import Settings

    client = await aiohttp_client(create_app(Settings(), channels={}, workers=False))
    resp = await client.get("/console/")
    assert resp.status == 503 and "redis://" in await resp.text()
    assert (await client.get("/console", allow_redirects=False)).status == 503

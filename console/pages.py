"""The console's pages, their JSON API and the CSV exports: overview, live handoffs,
conversations, one conversation, the review inbox and the audit log."""

from __future__ import annotations

import csv
import dataclasses
import io
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from console import conversations as convs
from console import overview
from console.auth import Login
from console.keys import DIMENSIONS, INDEX_NAMES
from console.masking import shown
from console.period import BadPeriod, as_query, parse
from console.recorder import ref_of
from console.web import CONSOLE, LOGIN, Console, admin_only
from gateway.handoff.state import handoff_of
from gateway.handoff.store import RedisHandoffStore
from gateway.review.inbox import RedisReviewInbox, review_inbox
from gateway.sessions import decode_session


def _period(request: web.Request) -> tuple[Any, str]:
    try:
        return parse(request.query)
    except BadPeriod as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc


def _csv(name: str, columns: list[str], rows: list[dict[str, Any]]) -> web.Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for r in rows:  # a cell starting with = + - @ is a formula in a spreadsheet: quote it
        writer.writerow({c: _cell(r.get(c)) for c in columns})
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


# ---------------------------------------------------------------- overview
async def overview_page(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    period, preset = _period(request)
    data = await overview.compute(console.redis, period, console.is_open)
    return console.render(
        request,
        "overview.html",
        data=data,
        period=period,
        preset=preset,
        charts=overview.charts(data, period),
        query=as_query(period, preset),
        hours_configured=not console.hours.always_open,
    )


async def overview_api(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    period, _ = _period(request)
    data = await overview.compute(console.redis, period, console.is_open)
    return web.json_response(
        {
            "since": period.since,
            "until": period.until,
            "group": period.group,
            "business_only": period.business_only,
            "summary": data["summary"],
            "buckets": data["rows"],
            "csat": data["csat"],
            "channels": data["channels"],
            "histograms": data["histograms"],
            "seconds": data["seconds"],
        }
    )


@admin_only
async def figures_csv(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    period, _ = _period(request)
    data = await overview.compute(console.redis, period, console.is_open)
    chart = request.query.get("chart") or None
    try:
        columns = overview.csv_columns(data["rows"], chart)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    await _audit(request, "export", what="figures", chart=chart or "all")
    return _csv(f"figures-{chart or 'all'}.csv", columns, data["rows"])


async def _audit(request: web.Request, action: str, **detail: Any) -> None:
    login: Login = request[LOGIN]
    await request.app[CONSOLE].audit.add(login.user, action, **detail)


# -------------------------------------------------------------------- live
async def live_data(console: Console) -> dict[str, Any]:
    redis, now = console.redis, time.time()
    keys = [k.decode() for k in await redis.zrange(RedisHandoffStore.TIMERS, 0, 499)]
    waiting: list[dict[str, Any]] = []
    claimed: list[dict[str, Any]] = []
    for key in keys:
        stored = await console.store.load_session(key)
        state = handoff_of(decode_session(stored.data)) if stored else None
        if state is None or not state.open:
            continue
        item = {
            "ref": ref_of(key),
            "trigger": state.trigger,
            "queue": state.queue_name,
            "since": state.at,
            "waiting_s": round(now - state.at),
            "agent": state.agent_name or "",
            "after_hours": state.after_hours,
        }
        (waiting if state.state == "queued" else claimed).append(item)
    agents: dict[str, int] = {}
    for c in claimed:
        agents[c["agent"]] = agents.get(c["agent"], 0) + 1
    waiting.sort(key=lambda w: -w["waiting_s"])
    return {"at": now, "waiting": waiting, "claimed": claimed, "by_agent": agents}


async def live_page(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    return console.render(request, "live.html", data=await live_data(console))


async def live_api(request: web.Request) -> web.Response:
    return web.json_response(await live_data(request.app[CONSOLE]))


# ----------------------------------------------------------- conversations
def _query(request: web.Request, limit: int = 50) -> tuple[convs.Query, Any, str]:
    period, preset = _period(request)
    filters = {d: request.query[d] for d in DIMENSIONS if request.query.get(d)}
    try:
        offset = max(0, int(request.query.get("offset", "0")))
    except ValueError as exc:
        raise web.HTTPBadRequest(text="offset: a number") from exc
    text = request.query.get("q", "").strip()[:200]
    q = convs.Query(period.since, period.until, filters, text, offset, limit)
    return q, period, preset


async def _choices(console: Console) -> dict[str, list[str]]:
    out = {}
    for d in DIMENSIONS:
        out[d] = sorted(v.decode() for v in await console.redis.smembers(INDEX_NAMES + d))
    return out


async def conversations_page(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    q, period, preset = _query(request)
    login: Login = request[LOGIN]
    found = await convs.find(console.redis, q, unmasked=login.admin)
    after = urlencode({**request.query, "offset": str(q.offset + q.limit)})
    return console.render(
        request,
        "conversations.html",
        found=found,
        q=q,
        period=period,
        preset=preset,
        query=as_query(period, preset),
        next_query=after,
        request_query=request.query_string,
        choices=await _choices(console),
        dims=DIMENSIONS,
    )


async def conversations_api(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    q, _, _ = _query(request, limit=min(500, int(request.query.get("limit", "50") or 50)))
    login: Login = request[LOGIN]
    found = await convs.find(console.redis, q, unmasked=login.admin)
    return web.json_response({"total": found.total, "exact": found.exact, "rows": found.rows})


@admin_only
async def conversations_csv(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    q, _, _ = _query(request, limit=convs.MAX_EXPORT)
    q = dataclasses.replace(q, offset=0)  # every row, whatever page the link was on
    found = await convs.find(console.redis, q, unmasked=True)
    await _audit(
        request,
        "export",
        what="conversations",
        rows=len(found.rows),
        filters=q.filters,
        text=q.text,
    )
    columns = list(convs.row("", {}, True))
    return _csv("conversations.csv", columns, found.rows)


async def _conversation(request: web.Request) -> dict[str, Any]:
    console = request.app[CONSOLE]
    key = await convs.key_of(console.redis, request.match_info["ref"])
    if key is None:
        raise web.HTTPNotFound(text="no such conversation (or it has expired)")
    login: Login = request[LOGIN]
    if login.admin:
        await _audit(request, "view_conversation", ref=request.match_info["ref"])
    prefix = console.wiring.note_prefix
    return await convs.detail(
        console.redis, console.store, key, unmasked=login.admin, note_prefix=prefix
    )


async def conversation_page(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    return console.render(request, "conversation.html", c=await _conversation(request))


async def conversation_api(request: web.Request) -> web.Response:
    return web.json_response(await _conversation(request))


# ------------------------------------------------------------------ review
def _inbox(console: Console) -> RedisReviewInbox:
    inbox = review_inbox(console.store, retention=console.wiring.retention)
    assert isinstance(inbox, RedisReviewInbox)
    return inbox


async def _items(console: Console, show_all: bool) -> list[dict[str, Any]]:
    items = await _inbox(console).items()
    if not show_all:
        items = [i for i in items if not i.applied and "ignore" not in (i.label or {})]
    return [i.as_json() for i in items]


async def review_page(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    show_all = request.query.get("all") == "1"
    login: Login = request[LOGIN]
    items = await _items(console, show_all)
    if not login.admin:
        for i in items:
            i["text"] = shown(i["text"], False)
    return console.render(
        request,
        "review.html",
        items=items,
        show_all=show_all,
        result=request.query.get("result", ""),
    )


async def review_api(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    login: Login = request[LOGIN]
    items = await _items(console, request.query.get("all") == "1")
    if not login.admin:
        for i in items:
            i["text"] = shown(i["text"], False)
    return web.json_response({"items": items})


@admin_only
async def review_csv(request: web.Request) -> web.Response:
    items = await _items(request.app[CONSOLE], True)
    for i in items:
        i["kinds"] = ", ".join(f"{k} {n}" for k, n in sorted(i["kinds"].items()))
        i["guesses"] = ", ".join(f"{g['name']} {g['score']:.2f}" for g in i["guesses"])
        i["conversations"] = len(i["conversations"])
    await _audit(request, "export", what="review", rows=len(items))
    columns = [
        "id",
        "text",
        "count",
        "kinds",
        "guesses",
        "first_seen",
        "last_seen",
        "label",
        "applied",
        "conversations",
    ]
    return _csv("review.csv", columns, items)


async def _form(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise web.HTTPBadRequest(text="malformed JSON") from exc
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        return {k: str(v) for k, v in body.items() if v is not None}
    return {k: str(v) for k, v in (await request.post()).items()}


def label_of(form: dict[str, str]) -> dict[str, Any]:
    """The label, as ``frontdesk review label`` makes it."""
    what = form.get("as", "")
    if what == "intent" and form.get("intent"):
        return {"intent": form["intent"].strip()}
    if what == "faq" and form.get("faq"):
        return {"faq": form["faq"].strip()}
    if what == "new_faq" and form.get("answer"):
        return {"new_faq": {"answer": form["answer"].strip(), "id": form.get("faq_id") or None}}
    if what == "ignore":
        return {"ignore": True}
    raise web.HTTPBadRequest(
        text="label as: intent (with intent), faq (with faq), new_faq (with answer) or ignore"
    )


def _done(request: web.Request, result: str, data: dict[str, Any]) -> web.Response:
    if request.path.startswith("/console/api/"):
        return web.json_response(data)
    from urllib.parse import quote

    raise web.HTTPSeeOther(f"/console/review?result={quote(result)}")


@admin_only
async def review_label(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    ident = request.match_info["id"]
    label = label_of(await _form(request))
    if not await _inbox(console).label(ident, label):
        raise web.HTTPNotFound(text=f"no review item {ident}")
    await _audit(request, "review_label", item=ident, label=label)
    return _done(request, f"{ident} labelled", {"id": ident, "label": label})


@admin_only
async def review_apply(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    form = await _form(request)
    dry_run = form.get("dry_run") in ("1", "true")
    applied = await console.wiring.apply_labels(_inbox(console), dry_run)
    data = {
        "written": applied.written,
        "dry_run": dry_run,
        "diff": applied.diff,
        "applied": applied.done if applied.written else [],
        "skipped": applied.skipped,
        "problems": applied.problems,
        "files": applied.files,
    }
    await _audit(
        request,
        "review_apply",
        dry_run=dry_run,
        written=applied.written,
        items=applied.done,
        files=applied.files,
    )
    if applied.problems:
        result = "refused: " + "; ".join(applied.problems)
    elif applied.written:
        result = f"applied {len(applied.done)} item(s) to {len(applied.files)} file(s)"
    else:
        result = "nothing to apply" if not applied.done else "dry run: nothing written"
    if applied.skipped:
        result += " (skipped: " + "; ".join(applied.skipped) + ")"
    return _done(request, result, data)


# ------------------------------------------------------------------- audit
@admin_only
async def audit_page(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    return console.render(request, "audit.html", entries=await console.audit.entries())


@admin_only
async def audit_csv(request: web.Request) -> web.Response:
    entries = await request.app[CONSOLE].audit.entries(10_000)
    return _csv("audit.csv", ["at", "user", "action", "detail"], entries)


@admin_only
async def live_csv(request: web.Request) -> web.Response:
    data = await live_data(request.app[CONSOLE])
    rows = [{**w, "state": "waiting"} for w in data["waiting"]]
    rows += [{**c, "state": "claimed"} for c in data["claimed"]]
    await _audit(request, "export", what="live", rows=len(rows))
    columns = ["state", "ref", "trigger", "queue", "since", "waiting_s", "agent", "after_hours"]
    return _csv("live.csv", columns, rows)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", overview_page)
    r.add_get("/live", live_page)
    r.add_get("/conversations", conversations_page)
    r.add_get("/conversations/{ref}", conversation_page)
    r.add_get("/review", review_page)
    r.add_post("/review/apply", review_apply)
    r.add_post("/review/{id}/label", review_label)
    r.add_get("/audit", audit_page)
    r.add_get("/api/overview", overview_api)
    r.add_get("/api/live", live_api)
    r.add_get("/api/conversations", conversations_api)
    r.add_get("/api/conversations/{ref}", conversation_api)
    r.add_get("/api/review", review_api)
    r.add_post("/api/review/apply", review_apply)
    r.add_post("/api/review/{id}/label", review_label)
    r.add_get("/export/figures.csv", figures_csv)
    r.add_get("/export/conversations.csv", conversations_csv)
    r.add_get("/export/review.csv", review_csv)
    r.add_get("/export/live.csv", live_csv)
    r.add_get("/export/audit.csv", audit_csv)

"""The queue's clock: re-announcing an unclaimed handoff, business hours, abandoned handoffs,
and the expected wait the customer is told."""

from __future__ import annotations

import datetime as dt

from gateway.handoff.desk import expected_wait
from gateway.handoff.hours import BusinessHours
from gateway.settings import BusinessHoursSettings
from tests.handoff.conftest import Client, Desk, until
from tests.support.waiting import drained

TG = "telegram:1111111"


def texts(desk: Desk) -> list[str]:
    return [c.params["text"] for c in desk.telegram.of("sendMessage")]


async def test_unclaimed_handoff_is_re_announced_with_the_user_group(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    await desk.open(aiohttp_client, redis_url, reannounce_after=0.4, mention="SAGENTS")
    await desk.telegram_says("agent")
    card_ts = await desk.card_ts()
    posts = await until(lambda: [p for p in desk.slack.posts() if p.get("reply_broadcast")])
    assert posts[0]["thread_ts"] == card_ts
    assert posts[0]["text"].startswith("<!subteam^SAGENTS> Still waiting for an agent")
    assert await until(lambda: desk.slack.ok_calls("chat.update"))
    await desk.press("handoff:claim", "UALICE", "alice", card_ts)
    await until(lambda: "You're now talking with Alice." in texts(desk))
    count = len([p for p in desk.slack.posts() if p.get("reply_broadcast")])
    await desk.telegram_says("ok")  # a turn after the claim: nothing more is announced
    await until(lambda: "*Test Firstname Test Lastname*: ok" in desk.slack.thread(card_ts))
    assert len([p for p in desk.slack.posts() if p.get("reply_broadcast")]) == count


async def test_outside_business_hours_the_customer_is_told_when_we_are_back(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    week = {day: ["08:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    hours = {"time_zone": "UTC", "weekly": week, "holidays": [today]}
    await desk.open(aiohttp_client, redis_url, business_hours=hours)
    await desk.telegram_says("agent")
    await until(lambda: len(texts(desk)) == 2)
    await drained(desk.gateway)  # the card too: it may leave after the customer's notice
    assert texts(desk)[1] == (
        "I'm handing you over to our team. We're closed at the moment and back tomorrow at "
        "08:00 (UTC); a person will answer you then. You can keep writing here."
    )
    [card] = desk.slack.cards()
    context = [b for b in card["blocks"] if b["type"] == "context"]
    assert context[0]["elements"][0]["text"].startswith("Outside business hours")


async def test_abandoned_handoff_closes_itself_and_the_bot_answers_next_time(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    await desk.open(aiohttp_client, redis_url, abandon_after=0.5)
    await desk.telegram_says("agent")
    card_ts = await desk.card_ts()
    note = await until(
        lambda: [t for t in desk.slack.thread(card_ts) if t.startswith("Closed automatically")]
    )
    assert "has not written for" in note[0]
    update = (await until(lambda: desk.slack.ok_calls("chat.update")))[-1]
    fields = [f["text"] for b in update["blocks"] if "fields" in b for f in b["fields"]]
    assert any(f.startswith("*Status*\nClosed: the customer left") for f in fields)
    assert not [b for b in update["blocks"] if b["type"] == "actions"]
    assert (await desk.session(TG)).owner == "bot"
    await desk.telegram_says("hello again")
    await until(lambda: "bot: hello again" in texts(desk))


def test_business_hours_weekly_schedule_and_holidays() -> None:
    hours = BusinessHours.from_settings(
        BusinessHoursSettings(
            time_zone="Europe/Paris",
            weekly={"mon": ("09:00-12:00", "14:00-18:00"), "tue": ("09:00-24:00",)},
            holidays=("2025-01-07",),
        )
    )
    paris = hours.zone

    def at(day: int, hour: int, minute: int = 0) -> float:
        return dt.datetime(2025, 1, day, hour, minute, tzinfo=paris).timestamp()

    assert hours.is_open(at(6, 9))  # Monday 6 January 2025
    assert not hours.is_open(at(6, 12, 30))
    assert hours.next_open(at(6, 12, 30)) == at(6, 14)
    assert not hours.is_open(at(7, 10))  # a holiday Tuesday
    assert hours.next_open(at(6, 19)) == at(13, 9)  # next Monday
    assert hours.is_open(at(14, 23, 59))


def test_expected_wait_follows_recent_pickups() -> None:
    assert expected_wait([]) == "Someone will be with you as soon as possible."
    assert expected_wait([30, 50, 70]) == "Someone usually answers within a minute or two."
    assert (
        expected_wait([200, 290, 900, 100, 250])
        == "Someone usually answers within about 5 minutes."
    )

"""Business hours: whether agents are there at an instant, and when they are next.

A weekly schedule of spans per day in one time zone (``zoneinfo``), with holidays closed all
day. No schedule means always open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from gateway.settings import BusinessHoursSettings

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Span = tuple[dt.time, dt.time | None]  # None: end of day (24:00)


def _time(text: str) -> dt.time | None:
    hours, minutes = (int(p) for p in text.split(":"))
    return None if hours == 24 else dt.time(hours, minutes)


@dataclass(frozen=True, slots=True)
class BusinessHours:
    zone: ZoneInfo
    weekly: dict[int, tuple[Span, ...]]
    holidays: frozenset[dt.date]

    @classmethod
    def from_settings(cls, settings: BusinessHoursSettings) -> BusinessHours:
        weekly: dict[int, tuple[Span, ...]] = {}
        for day, spans in settings.weekly.items():
            parsed = []
            for span in spans:
                start, end = span.split("-")
                begin = _time(start)
                parsed.append((begin or dt.time(0), _time(end)))
            weekly[_DAYS.index(day)] = tuple(sorted(parsed, key=lambda s: s[0]))
        holidays = frozenset(dt.date.fromisoformat(d) for d in settings.holidays)
        return cls(ZoneInfo(settings.time_zone), weekly, holidays)

    @property
    def always_open(self) -> bool:
        return not self.weekly

    def _spans(self, day: dt.date) -> tuple[Span, ...]:
        if day in self.holidays:
            return ()
        return self.weekly.get(day.weekday(), ())

    def is_open(self, at: float) -> bool:
        if self.always_open:
            return True
        local = dt.datetime.fromtimestamp(at, self.zone)
        now = local.time()
        return any(
            start <= now and (end is None or now < end) for start, end in self._spans(local.date())
        )

    def next_open(self, at: float) -> float | None:
        """``at`` if open then, else when the next span starts (None: never, within a year)."""
        if self.is_open(at):
            return at
        local = dt.datetime.fromtimestamp(at, self.zone)
        for offset in range(366):
            day = local.date() + dt.timedelta(days=offset)
            for start, _ in self._spans(day):
                begins = dt.datetime.combine(day, start, tzinfo=self.zone)
                if begins.timestamp() > at:
                    return begins.timestamp()
        return None

    def describe(self, at: float) -> str:
        """When ``at`` is, in the schedule's zone, for a customer: "Monday at 09:00 (Europe/
        Paris)", or "today at 14:00"."""
        local = dt.datetime.fromtimestamp(at, self.zone)
        now = dt.datetime.now(self.zone)
        if local.date() == now.date():
            day = "today"
        elif local.date() == now.date() + dt.timedelta(days=1):
            day = "tomorrow"
        else:
            day = local.strftime("%A")
        return f"{day} at {local:%H:%M} ({self.zone.key})"

"""The period a report covers: whole days in the business's time zone (SUPPORTBOT_HANDOFF_TIMEZONE),
from ``--since`` to ``--until`` inclusive."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_DAYS = 400
_AGO = re.compile(r"(\d{1,3})d")


class PeriodError(ValueError):
    """A period that cannot be used; the message names the field and what to write."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PeriodError(f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin") from exc


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    tz: str = "UTC"

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise PeriodError(f"until ({self.last}) is before since ({self.first}): swap them")
        if (self.last - self.first).days >= MAX_DAYS:
            raise PeriodError(f"a period is at most {MAX_DAYS} days; this one has "
                              f"{(self.last - self.first).days + 1}")

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def start_utc(self) -> datetime:
        """The first instant of the first day, in UTC."""
        return datetime.combine(self.first, time(), zone(self.tz)).astimezone(timezone.utc)

    def end_utc(self) -> datetime:
        """The first instant after the last day, in UTC."""
        return datetime.combine(self.last + timedelta(days=1), time(), zone(self.tz)).astimezone(timezone.utc)

    def to_json(self) -> dict[str, str]:
        return {"since": self.first.isoformat(), "until": self.last.isoformat(), "timezone": self.tz}


def day_of(moment: datetime | float, tz: str) -> date:
    """The business day ``moment`` (an aware datetime or a Unix timestamp) falls on."""
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone(tz)).date()


def parse_day(raw: str, field: str, today: date) -> date:
    """``7d`` (the day 6 days before today, so 7 days with today), ``today`` or ``2026-11-01``."""
    raw = (raw or "").strip().lower()
    if raw == "today":
        return today
    m = _AGO.fullmatch(raw)
    if m:
        if int(m.group(1)) < 1:
            raise PeriodError(f"{field}: a number of days is at least 1d")
        return today - timedelta(days=int(m.group(1)) - 1)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise PeriodError(f"{field} takes a number of days such as 7d, 'today' or a date such as "
                          f"2026-11-01; got {raw[:40]!r}") from None


def parse_period(since: str | None, until: str | None, tz: str, now: datetime | None = None) -> Period:
    """The period from ``since`` (default 7d) to ``until`` (default today), in ``tz``'s days."""
    today = day_of(now or datetime.now(timezone.utc), tz)
    first = parse_day(since or "7d", "since", today)
    last = parse_day(until, "until", today) if until else today
    return Period(first, last, tz)

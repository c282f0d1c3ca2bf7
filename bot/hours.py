"""Opening hours for live hand-offs, e.g. ``"mon-fri 09:00-18:00; sat 10:00-14:00"``."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class HoursError(ValueError):
    pass


def parse_hours(spec: str, tz: str = "UTC") -> tuple[ZoneInfo, list[tuple[set[int], time, time]]]:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HoursError(f"unknown time zone {tz!r} (use a name like Europe/Berlin)") from exc
    rules = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        try:
            days_s, times_s = part.split()
            first, _, last = days_s.lower().partition("-")
            a, b = DAYS.index(first), DAYS.index(last or first)
            start_s, end_s = times_s.split("-")
            start, end = time.fromisoformat(start_s), time.fromisoformat(end_s)
        except ValueError as exc:
            raise HoursError(f"cannot read opening hours {part!r}: write them like "
                             "'mon-fri 09:00-18:00; sat 10:00-14:00'") from exc
        if end <= start:
            raise HoursError(f"opening hours {part!r} end before they start")
        days = set(range(a, b + 1)) if a <= b else set(range(a, 7)) | set(range(0, b + 1))
        rules.append((days, start, end))
    return zone, rules


def is_open(spec: str, tz: str, now: datetime) -> bool:
    """Always open when ``spec`` is empty."""
    zone, rules = parse_hours(spec, tz)
    if not rules:
        return True
    local = now.astimezone(zone)
    return any(local.weekday() in days and start <= local.time() < end for days, start, end in rules)

"""Every analytics figure against a seeded set of conversations (tests/analytics_seed.py), the
expected numbers computed here from the conversations' plain descriptions, not by the code tested."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot.analytics.definitions import DEFINITIONS
from bot.analytics.period import Period, PeriodError, parse_period
from bot.analytics.service import Analytics
from bot.analytics.summary import Summary, conversations, events
from bot.analytics.tables import Table, to_csv, to_text
from bot.db import sqlite_engine
from tests.analytics_seed import ENTRIES, REASONS, UTC, Seeded, scenario, seed

TZ = "Europe/Berlin"
FIRST = datetime(2026, 11, 2, tzinfo=UTC)
DAYS = 4


def local_day(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(TZ)).date()


def nearest_rank_p90(values):
    ordered = sorted(values)
    k = -(-9 * len(ordered) // 10)  # ceil(0.9 n), in integers
    return round(ordered[k - 1], 1)


def middle(values):
    ordered, n = sorted(values), len(values)
    return round(ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2, 1)


def pct(part, whole):
    return round(100 * part / whole, 1) if whole else None


@pytest.fixture
def seeded(tmp_path):
    tracker = sqlite_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    store = sqlite_engine(f"sqlite:///{tmp_path / 'handoff.db'}")
    convs = scenario(150, FIRST, DAYS)
    seed(tracker, store, convs)
    return tracker, store, convs


def report(tracker, store, period, **kwargs):
    analytics = Analytics(lambda: tracker, store, TZ, **kwargs)
    return {t["name"]: t for t in analytics.report(period)["tables"]}


def column(table, name):
    i = table["columns"].index(name)
    return {row[0]: row[i] for row in table["rows"]}


def whole_period() -> Period:
    return Period(local_day(FIRST) - timedelta(days=1), local_day(FIRST) + timedelta(days=DAYS + 1), TZ)


def test_conversations_containment_and_faq_rates_per_day(seeded):
    tracker, store, convs = seeded
    period = whole_period()
    days = report(tracker, store, period)["days"]
    by_day: dict[date, list[Seeded]] = defaultdict(list)
    for s in convs:
        by_day[local_day(s.start)].append(s)
    for day in period.days:
        group = by_day.get(day, [])
        turns = Counter(t for s in group for t in s.turns)
        questions = turns["answer"] + turns["clarify"] + turns["miss"]
        contained = sum(1 for s in group if s.handoff is None)
        key = day.isoformat()
        assert column(days, "conversations")[key] == len(group)
        assert column(days, "contained")[key] == contained
        assert column(days, "containment %")[key] == pct(contained, len(group))
        assert column(days, "FAQ questions")[key] == questions
        assert column(days, "answered %")[key] == pct(turns["answer"], questions)
        assert column(days, "clarified %")[key] == pct(turns["clarify"], questions)
        assert column(days, "missed %")[key] == pct(turns["miss"], questions)
        assert column(days, "options chosen")[key] == turns["chosen"]
        assert column(days, "options refused")[key] == turns["refused"]
    assert column(days, "conversations")["all"] == len(convs)
    assert sum(1 for s in convs if s.handoff is None) < len(convs)  # the seed has both kinds


def test_handoffs_by_reason_and_their_times_count_on_the_day_they_opened(seeded):
    tracker, store, convs = seeded
    period = whole_period()
    tables = report(tracker, store, period)
    opened = [(s.start + timedelta(seconds=s.handoff.opened), s.handoff) for s in convs if s.handoff]
    for day in [*period.days, None]:
        mine = [h for at, h in opened if day is None or local_day(at) == day]
        key = "all" if day is None else day.isoformat()
        reasons = Counter(h.reason for h in mine)
        row = dict(zip(tables["reasons"]["columns"], next(r for r in tables["reasons"]["rows"] if r[0] == key)))
        assert {r: row[r] for r in REASONS} == {r: reasons[r] for r in REASONS}
        assert row["all reasons"] == len(mine)
        replies = [h.replied for h in mine if h.replied is not None]
        handling = [h.ended for h in mine if h.claimed is not None and h.ended is not None]
        days = tables["days"]
        assert column(days, "first reply median s")[key] == (middle(replies) if replies else None)
        assert column(days, "first reply p90 s")[key] == (nearest_rank_p90(replies) if replies else None)
        assert column(days, "handling median s")[key] == (middle(handling) if handling else None)
        assert column(days, "handling p90 s")[key] == (nearest_rank_p90(handling) if handling else None)
    assert sum(1 for _, h in opened if local_day(_) != local_day(_ - timedelta(seconds=h.opened))) > 0


def test_ratings_after_the_bot_alone_and_after_a_person(seeded):
    tracker, store, convs = seeded
    ratings = {row[0]: row for row in report(tracker, store, whole_period())["ratings"]["rows"]}
    for who, values in (("the bot alone", [s.bot_rating for s in convs if s.bot_rating]),
                        ("a person", [s.handoff.rating for s in convs if s.handoff and s.handoff.rating])):
        assert values
        assert ratings[who][1:] == [len(values), round(sum(values) / len(values), 2),
                                    *(values.count(n) for n in range(1, 6)),
                                    pct(sum(1 for v in values if v <= 2), len(values))]


def test_votes_and_most_answered_entries(seeded):
    tracker, store, convs = seeded
    titles = {e: f"Question about {e}?" for e in ENTRIES}
    tables = report(tracker, store, whole_period(), titles=lambda: titles)
    votes = Counter((e, helpful) for s in convs for e, helpful in s.votes)
    rows = {r[0]: r for r in tables["votes"]["rows"]}
    for entry in ENTRIES:
        good, bad = votes[(entry, True)], votes[(entry, False)]
        assert rows[entry] == [entry, titles[entry], good, bad, pct(good, good + bad)]
    answered = Counter(e for s in convs for e in s.answers)
    assert [r[2] for r in tables["entries"]["rows"]] == sorted(answered.values(), reverse=True)
    assert {r[0]: r[2] for r in tables["entries"]["rows"]} == dict(answered)


def test_a_period_counts_only_its_own_days(seeded):
    tracker, store, convs = seeded
    day = local_day(FIRST) + timedelta(days=1)
    summary = {r[0]: r[1] for r in report(tracker, store, Period(day, day, TZ))["summary"]["rows"]}
    assert summary["conversations"] == sum(1 for s in convs if local_day(s.start) == day)


def test_groups_of_the_inbox_are_listed_with_a_link_to_it(seeded):
    tracker, store, _ = seeded
    groups = [{"customers": 3, "count": 4, "examples": ["where is my parcel"],
               "nearest": [{"id": "track_order"}]}]
    tables = report(tracker, store, whole_period(), groups=lambda: groups)
    assert tables["groups"]["rows"] == [[3, 4, "where is my parcel", "track_order", "/editor/#inbox"]]
    analytics = Analytics(lambda: tracker, store, TZ, groups=lambda: 1 / 0)
    answer = analytics.report(whole_period())
    assert "groups" not in {t["name"] for t in answer["tables"]}
    assert "division by zero" in answer["groups_error"]


def rows_of(store):
    with store.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.select(conversations)))


def test_the_summary_read_in_windows_as_events_arrive_equals_one_read_of_all(seeded, tmp_path):
    tracker, store, convs = seeded
    with tracker.connect() as conn:
        all_rows = conn.execute(sa.select(events).order_by(events.c.id)).all()
    # the same events arriving in four parts, read by two summaries taking turns in small windows
    live = sqlite_engine(f"sqlite:///{tmp_path / 'live.db'}")
    ours = sqlite_engine(f"sqlite:///{tmp_path / 'ours.db'}")
    a, b = Summary(live, ours, TZ, window=97), Summary(live, ours, TZ, window=53)
    events.metadata.create_all(live)
    quarter = len(all_rows) // 4 + 1
    for part in range(4):
        with live.begin() as conn:
            part_rows = all_rows[part * quarter:(part + 1) * quarter]
            conn.execute(events.insert(), [dict(r._mapping) for r in part_rows])
        (a if part % 2 else b).refresh(budget=0.0)  # one window, then the other summary goes on
        a.refresh()
        b.refresh()
    Summary(tracker, store, TZ).refresh()
    assert rows_of(ours) == rows_of(store)
    assert len(rows_of(ours)) == len(convs)


def test_deleted_events_rebuild_the_summary_without_them(seeded):
    from bot.privacy.retention import Retention

    tracker, store, convs = seeded
    summary = Summary(tracker, store, TZ)
    summary.refresh()
    gone = convs[0].conversation_id
    Retention(tracker, store).forget_sender(gone)
    fresh = summary.refresh()
    assert fresh.rebuilt
    assert gone not in {r[0] for r in rows_of(store)} and len(rows_of(store)) == len(convs) - 1


def test_a_new_time_zone_rebuilds_the_days(seeded):
    tracker, store, convs = seeded
    Summary(tracker, store, TZ).refresh()
    assert Summary(tracker, store, "UTC").refresh().rebuilt
    with store.connect() as conn:
        days = Counter(conn.execute(sa.select(conversations.c.day)).scalars())
    assert days == Counter(s.start.date() for s in convs)


def test_a_page_request_reads_for_its_budget_and_says_how_far_behind_it_is(seeded):
    tracker, store, _ = seeded
    first = Summary(tracker, store, TZ, window=10).refresh(budget=0.0)
    assert first.read > 0 and first.behind > 0
    assert Summary(tracker, store, TZ).refresh().behind == 0


def test_no_tracker_yet_means_empty_figures(tmp_path):
    store = sqlite_engine(f"sqlite:///{tmp_path / 'handoff.db'}")
    answer = Analytics(lambda: None, store, TZ).report(Period(date(2026, 1, 1), date(2026, 1, 2), TZ))
    summary = {t["name"]: t for t in answer["tables"]}["summary"]
    assert dict(summary["rows"])["conversations"] == 0


@pytest.mark.parametrize("since,until,expected", [
    ("7d", None, (date(2026, 11, 4), date(2026, 11, 10))),
    ("1d", None, (date(2026, 11, 10), date(2026, 11, 10))),
    ("2026-11-01", "2026-11-03", (date(2026, 11, 1), date(2026, 11, 3))),
    (None, "today", (date(2026, 11, 4), date(2026, 11, 10))),
])
def test_periods(since, until, expected):
    p = parse_period(since, until, "UTC", now=datetime(2026, 11, 10, 12, tzinfo=UTC))
    assert (p.first, p.last) == expected


@pytest.mark.parametrize("since,until,message", [
    ("last week", None, "since takes a number of days such as 7d"),
    ("2026-11-05", "2026-11-01", "is before since"),
    ("0d", None, "at least 1d"),
    ("2020-01-01", "2026-01-01", "at most 400 days"),
    ("7d", "soon", "until takes"),
])
def test_bad_periods_say_what_to_write(since, until, message):
    with pytest.raises(PeriodError, match=message):
        parse_period(since, until, "UTC", now=datetime(2026, 11, 10, tzinfo=UTC))
    with pytest.raises(PeriodError, match="IANA"):
        parse_period("7d", None, "Mars/Olympus")


def test_csv_keeps_text_as_text_and_never_a_formula():
    table = Table("t", "T", "day", ["a", "b"], [["=HYPERLINK(1)", None], ["plain, with comma", 2.5]])
    assert to_csv(table) == "a,b\r\n'=HYPERLINK(1),\r\n\"plain, with comma\",2.5\r\n"
    assert "(none)" in to_text(Table("t", "T", "day", ["a"], []))


def test_every_definition_is_in_the_docs_word_for_word(root):
    docs = re.sub(r"\s+", " ", (root / "docs" / "analytics.md").read_text())
    missing = [k for k, text in DEFINITIONS.items() if text not in docs]
    assert missing == []


def test_the_names_read_from_events_are_the_bots(root):
    from rasa.core.tracker_store import SQLTrackerStore

    from bot.analytics import summary
    from bot.conversation import closing, faq_turn
    from bot.kb import decision

    assert (summary.NONE_INTENT, summary.RATING_SLOT, summary.RATED) == (
        faq_turn.NONE_INTENT, closing.RATING_SLOT, closing.RATED)
    assert {"answer", "clarify", "miss"} == {decision.ANSWER, decision.CLARIFY, decision.MISS}
    rules = (root / "data" / "rules.yml").read_text()
    assert f"intent: {summary.RATE_INTENT}\n      - action: action_rate" in rules
    rasa = SQLTrackerStore.SQLEvent.__table__
    for c in events.columns:
        assert c.name in rasa.columns and type(rasa.columns[c.name].type) is type(c.type)


def test_supportbot_report_prints_the_same_figures(seeded, tmp_path, capsys):
    from bot.cli import main
    from bot.settings import Settings

    _, _, convs = seeded
    settings = Settings(root=tmp_path, tracker_db=str(tmp_path / "tracker.db"),
                        handoff_db=str(tmp_path / "handoff.db"), handoff_timezone=TZ)
    period = whole_period()
    args = ["report", "--since", period.first.isoformat(), "--until", period.last.isoformat(), "--no-groups"]
    assert main(args + ["--csv", "summary"], settings) == 0
    summary = dict(line.split(",") for line in capsys.readouterr().out.splitlines()[1:])
    assert summary["conversations"] == str(len(convs))
    assert summary["contained"] == str(sum(1 for s in convs if s.handoff is None))
    assert main(args + ["--definitions"], settings) == 0
    out = capsys.readouterr().out
    assert "Hand-offs by reason" in out and "Most answered entries" in out and DEFINITIONS["contained"] in out
    assert main(["report", "--since", "last week"], settings) == 1
    assert "--since takes a number of days such as 7d" in capsys.readouterr().err
    assert main(args + ["--csv", "nope"], settings) == 1
    assert "the tables are summary, days, reasons" in capsys.readouterr().err

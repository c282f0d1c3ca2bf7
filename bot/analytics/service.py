"""The analytics for the page and ``supportbot report``: refresh the summary, compute the period's
figures, lay them out as tables, one code path for both."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import sqlalchemy as sa

from bot.analytics.definitions import DEFINITIONS
from bot.analytics.figures import compute
from bot.analytics.period import Period
from bot.analytics.summary import Freshness, Summary
from bot.analytics.tables import Table, tables
from bot.db import engine
from bot.settings import Settings

log = logging.getLogger(__name__)
Groups = Callable[[], Sequence[Mapping[str, Any]]]


def tracker_engine(settings: Settings) -> sa.engine.Engine | None:
    """The engine of Rasa's tracker store; None while its SQLite file does not exist yet."""
    if settings.tracker_url:
        return engine(settings.tracker_url)
    path = settings.path(Path(settings.tracker_db))
    return engine(f"sqlite:///{path}") if path.exists() else None


def corpus_titles(corpus: Path) -> Callable[[], dict[str, str]]:
    """Entry id -> question, from ``data/faq`` as it is now (empty when it cannot be read)."""
    def titles() -> dict[str, str]:
        from bot.kb.corpus import CorpusError, load_corpus

        try:
            return {e.id: e.question for e in load_corpus(corpus).entries}
        except (CorpusError, OSError):
            return {}
    return titles


class Analytics:
    """``tracker()`` gives the tracker's engine (None: no conversations yet); ``groups()`` the inbox's
    groups (None: no groups shown; an exception: shown as not available, with why)."""

    def __init__(self, tracker: Callable[[], sa.engine.Engine | None], store: sa.engine.Engine, tz: str = "UTC",
                 titles: Callable[[], Mapping[str, str]] = dict, groups: Groups | None = None):
        self.tracker, self.store, self.tz = tracker, store, tz
        self.titles, self.groups = titles, groups
        self._summary: Summary | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, groups: Groups | None = None) -> Analytics:
        return cls(lambda: tracker_engine(settings), engine(settings.handoff_db_url), settings.handoff_timezone,
                   corpus_titles(settings.corpus_path), groups)

    def refresh(self, budget: float | None = None) -> Freshness:
        """Fold new tracker events into the summary (all, or for about ``budget`` seconds)."""
        with self._lock:
            if self._summary is None or self._summary.tracker is None:
                self._summary = Summary(self.tracker(), self.store, self.tz)
            return self._summary.refresh(budget)

    def tables(self, period: Period) -> tuple[list[Table], str | None]:
        """The period's tables, and why the inbox's groups are missing (None when they are there)."""
        groups, why = None, None
        if self.groups is not None:
            try:
                groups = self.groups()
            except Exception as exc:  # noqa: BLE001 - no index serving yet, a broken one: the rest still shows
                log.warning("the inbox's groups are not available: %s", exc)
                why = f"the inbox's groups are not available: {exc}"
        return tables(compute(self.store, period), self.titles(), groups), why

    def report(self, period: Period, budget: float | None = None) -> dict[str, Any]:
        """What the page's API returns: the period, how current the summary is, every table and
        every definition."""
        started = time.perf_counter()
        fresh = self.refresh(budget)
        found, why = self.tables(period)
        return {"period": period.to_json(), "freshness": fresh.to_json(), "groups_error": why,
                "tables": [t.to_json() for t in found], "definitions": DEFINITIONS,
                "seconds": round(time.perf_counter() - started, 3)}

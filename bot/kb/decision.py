"""From scored FAQ entries to what the bot does: answer, clarify ("did you mean…") or miss."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping, Sequence

from bot.kb.query import is_short

ANSWER, CLARIFY, MISS = "answer", "clarify", "miss"
TARGET_PRECISION = 0.95  # calibration's default: the share of answers that should be right


class ThresholdError(ValueError):
    """Thresholds that cannot work together."""


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds on cosine similarity; calibrated per index version by ``kb calibrate``.

    Attributes:
        answer: the best entry must score at least this to be answered outright.
        margin: ...and lead the runner-up entry by at least this much.
        clarify: entries scoring at least this are offered as "Did you mean…" options.
        window: options must score within this of the best entry.
        max_options: at most this many options.
        short_answer, short_margin: the answer threshold and margin for a short message (at most
            ``bot.kb.query.SHORT_WORDS`` words), calibrated on short windows of the
            phrasings; None: short messages use ``answer`` and ``margin``.
    """

    answer: float = 0.62
    margin: float = 0.03
    clarify: float = 0.45
    window: float = 0.12
    max_options: int = 3
    source: str = "default"
    short_answer: float | None = None
    short_margin: float | None = None

    def __post_init__(self) -> None:
        for name in ("answer", "margin", "clarify", "window", "short_answer", "short_margin"):
            value = getattr(self, name)
            if value is None and name.startswith("short_"):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1 <= value <= 1:
                raise ThresholdError(f"threshold '{name}' must be a number in [-1, 1], got {value!r}")
        if self.clarify > self.answer:
            raise ThresholdError(
                f"the clarify threshold ({self.clarify}) must not exceed the answer threshold "
                f"({self.answer})")
        if not 1 <= self.max_options <= 5:
            raise ThresholdError(f"max_options must be between 1 and 5, got {self.max_options}")

    def for_query(self, query: str | None) -> Thresholds:
        """These thresholds for ``query``: :meth:`for_short` for a short message, else these."""
        return self.for_short() if query is not None and is_short(query) else self

    def for_short(self) -> Thresholds:
        """What a short message is held to: the short pair if calibrated, never laxer than the long
        one (recalibrated from traffic, the long pair may have risen past it)."""
        if self.short_answer is None or self.short_margin is None:
            return self
        return replace(self, answer=max(self.answer, self.short_answer),
                       margin=max(self.margin, self.short_margin))

    def for_entry(self, overrides: Mapping[str, float]) -> Thresholds:
        """These thresholds with an entry's own overrides applied."""
        if not overrides:
            return self
        values = asdict(self)
        values.update(overrides)
        values["clarify"] = min(values["clarify"], values["answer"])
        return Thresholds(**values)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Thresholds:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ThresholdError(f"unknown threshold keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)


@dataclass(frozen=True)
class EntryHit:
    """One FAQ entry's score for a query: the best of its phrasings."""

    entry_id: str
    score: float
    phrasing: str
    # the query's content words the entry's phrasings contain, and those no other entry's do
    # (BM25's postings; on the best two hits only)
    words: frozenset[str] = frozenset()
    unique: frozenset[str] = frozenset()


def split_between(top: EntryHit, runner_up: EntryHit) -> bool:
    """Whether a question asks about parts of two entries: the runner-up has a word of it that
    no other entry has, the top entry has words the runner-up lacks but none of its own
    ("how long does shipping to canada take": only shipping abroad says "canada"; delivery times
    has "long" and "shipping", which other entries have too)."""
    return bool(runner_up.unique - top.words) and bool(top.words - runner_up.words) \
        and not top.unique - runner_up.words


@dataclass(frozen=True)
class Decision:
    kind: str  # ANSWER, CLARIFY or MISS
    hits: tuple[EntryHit, ...] = ()
    options: tuple[EntryHit, ...] = ()
    reason: str = ""
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def top(self) -> EntryHit | None:
        return self.hits[0] if self.hits else None

    @property
    def entry_id(self) -> str | None:
        """The answered entry, if the decision is to answer."""
        return self.hits[0].entry_id if self.kind == ANSWER else None

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.kind,
            "entry_id": self.entry_id,
            "score": round(self.top.score, 4) if self.top else None,
            "options": [o.entry_id for o in self.options],
            "reason": self.reason,
            "hits": [{"entry_id": h.entry_id, "score": round(h.score, 4), "phrasing": h.phrasing}
                     for h in self.hits],
        }


def decide(hits: Sequence[EntryHit], thresholds: Thresholds,
           overrides: Mapping[str, Mapping[str, float]] | None = None,
           declined_by: str | None = None, query: str | None = None) -> Decision:
    """Decide from entry hits sorted best first.

    Args:
        hits: per-entry scores, best first.
        thresholds: the index version's thresholds.
        overrides: per-entry threshold overrides by entry id (from the corpus).
        declined_by: the out-of-scope example nearer to the question than any entry, if one is
            (``IndexVersion.declined_by``): a miss whatever the scores.
        query: the message searched for; a short one is answered only past the short thresholds.
    """
    hits = tuple(hits)
    thresholds = thresholds.for_query(query)
    if not hits:
        return Decision(MISS, reason="no entries", thresholds=thresholds)
    if declined_by is not None:
        return Decision(MISS, hits, reason=f"nearer to the out-of-scope example {declined_by!r}",
                        thresholds=thresholds)
    top = hits[0]
    t = thresholds.for_entry((overrides or {}).get(top.entry_id, {}))
    runner_up = hits[1].score if len(hits) > 1 else -1.0
    lead = top.score - runner_up
    split = len(hits) > 1 and lead <= t.window and hits[1].score >= t.clarify and split_between(top, hits[1])
    if top.score >= t.answer and lead >= t.margin and not split:
        return Decision(ANSWER, hits, reason=f"score {top.score:.3f} >= {t.answer:.3f}, "
                        f"lead {lead:.3f} >= {t.margin:.3f}", thresholds=t)
    options = tuple(
        h for h in hits
        if h.score >= thresholds.for_entry((overrides or {}).get(h.entry_id, {})).clarify
        and top.score - h.score <= t.window
    )[: t.max_options]
    if options:
        why = ("words of two entries" if split else "close runner-up") if top.score >= t.answer \
            else f"score {top.score:.3f} < {t.answer:.3f}"
        return Decision(CLARIFY, hits, options, reason=why, thresholds=t)
    return Decision(MISS, hits, reason=f"score {top.score:.3f} < clarify {t.clarify:.3f}",
                    thresholds=t)

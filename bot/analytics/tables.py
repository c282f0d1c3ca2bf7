"""The figures laid out as named tables, the one shape the page, its CSV export and
``supportbot report`` all show."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from bot.analytics.figures import REASONS, Day, Figures, median, p90, share

INBOX_LINK = "/editor/#inbox"
Cell = Any  # str, int, float or None ("-" in a terminal, empty in CSV)


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    definition: str  # a key of DEFINITIONS
    columns: list[str]
    rows: list[list[Cell]]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "definition": self.definition,
                "columns": self.columns, "rows": self.rows}


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _average(values: Sequence[int]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _day_row(label: str, d: Day) -> list[Cell]:
    q = d.questions
    return [label, d.conversations, d.contained, share(d.contained, d.conversations), q,
            share(d.answered, q), share(d.clarified, q), share(d.missed, q), d.chosen, d.refused,
            sum(d.handoffs.values()), _seconds(median(d.first_reply)), _seconds(p90(d.first_reply)),
            _seconds(median(d.handling)), _seconds(p90(d.handling)),
            len(d.bot_ratings), _average(d.bot_ratings), len(d.person_ratings), _average(d.person_ratings)]


DAY_COLUMNS = ["day", "conversations", "contained", "containment %", "FAQ questions", "answered %",
               "clarified %", "missed %", "options chosen", "options refused", "hand-offs",
               "first reply median s", "first reply p90 s", "handling median s", "handling p90 s",
               "bot-only ratings", "bot-only average", "person ratings", "person average"]


def tables(f: Figures, titles: Mapping[str, str] | None = None,
           groups: Sequence[Mapping[str, Any]] | None = None) -> list[Table]:
    """Every table of the report: ``titles`` names entries (id -> question), ``groups`` are the
    inbox's groups as ``bot.editor.inbox.groups_json`` gives them (None: not available)."""
    titles = titles or {}
    t = f.total
    summary: list[list[Cell]] = [
        ["conversations", t.conversations], ["contained", t.contained],
        ["containment %", share(t.contained, t.conversations)], ["FAQ questions", t.questions],
        ["answered %", share(t.answered, t.questions)], ["clarified %", share(t.clarified, t.questions)],
        ["missed %", share(t.missed, t.questions)], ["hand-offs", sum(t.handoffs.values())],
        ["first reply median s", _seconds(median(t.first_reply))],
        ["first reply p90 s", _seconds(p90(t.first_reply))],
        ["handling median s", _seconds(median(t.handling))], ["handling p90 s", _seconds(p90(t.handling))],
        ["bot-only average rating", _average(t.bot_ratings)],
        ["person average rating", _average(t.person_ratings)],
    ]
    days = [_day_row(d.isoformat(), day) for d, day in f.days.items()] + [_day_row("all", t)]
    reasons = [[d.isoformat(), *(day.handoffs.get(r, 0) for r in REASONS), sum(day.handoffs.values())]
               for d, day in f.days.items()]
    reasons.append(["all", *(t.handoffs.get(r, 0) for r in REASONS), sum(t.handoffs.values())])
    ratings = [[who, len(values), _average(values), *(values.count(n) for n in range(1, 6)),
                share(sum(1 for v in values if v <= 2), len(values))]
               for who, values in (("the bot alone", t.bot_ratings), ("a person", t.person_ratings))]
    votes = [[v["id"], titles.get(v["id"], ""), v["helpful"], v["not_helpful"],
              share(v["helpful"], v["helpful"] + v["not_helpful"])] for v in f.votes]
    entries = [[e["id"], titles.get(e["id"], ""), e["answered"]] for e in f.entries]
    out = [
        Table("summary", "The period at a glance", "conversations", ["figure", "value"], summary),
        Table("days", "Per day", "day", DAY_COLUMNS, days),
        Table("reasons", "Hand-offs by reason", "handoffs", ["day", *REASONS, "all reasons"], reasons),
        Table("ratings", "Ratings: after the bot alone vs after a person", "bot_ratings",
              ["after", "ratings", "average", "1", "2", "3", "4", "5", "low (1-2) %"], ratings),
        Table("votes", "Helpful / not helpful votes per entry", "votes",
              ["entry", "question", "helpful", "not helpful", "helpful %"], votes),
        Table("entries", "Most answered entries", "entries", ["entry", "question", "answered"], entries),
    ]
    if groups is not None:
        rows = [[g["customers"], g["count"], (g.get("examples") or [""])[0],
                 ", ".join(n["id"] for n in g.get("nearest", [])[:1]), INBOX_LINK] for g in groups[:10]]
        out.append(Table("groups", "Biggest unanswered groups (open now)", "groups",
                         ["customers", "questions", "example", "nearest entry", "inbox"], rows))
    return out


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if c is None else _safe(c) for c in row])
    return out.getvalue()


def _safe(cell: Cell) -> Cell:
    """A text cell a spreadsheet would run as a formula (=, +, -, @ first) gets a leading quote."""
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


def to_text(table: Table) -> str:
    """A fixed-width table for a terminal."""
    cells = [[_text(c) for c in row] for row in table.rows]
    widths = [max([len(col)] + [len(r[i]) for r in cells]) for i, col in enumerate(table.columns)]
    lines = [table.title, "  ".join(c.ljust(w) for c, w in zip(table.columns, widths))]
    lines += ["  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    if not table.rows:
        lines.append("(none)")
    return "\n".join(line.rstrip() for line in lines)


def _text(cell: Cell) -> str:
    if cell is None:
        return "-"
    text = f"{cell:g}" if isinstance(cell, float) else str(cell)
    return text if len(text) <= 60 else text[:59] + "…"


def _numeric(text: str) -> bool:
    return text.replace(".", "", 1).replace("-", "", 1).isdigit() or text == "-"

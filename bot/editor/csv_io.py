"""The FAQ as CSV for spreadsheets: the export, and an import planned as editor changes (added,
updated, deleted, with every validation error at its CSV row) before anything is written. The
format itself (quoting, formula guard, BOM, reading an upload) is ``bot.editor.csv_format``."""

from __future__ import annotations

import ast
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Sequence

import yaml

from bot.editor.changes import DELETE, MAX_ITEMS, SAVE, Change, applied, entry_json, revision
from bot.editor.csv_format import (
    COLUMNS,
    REQUIRED,
    RowError,
    clean,
    guard,
    join,
    letter,
    read_records,
    split,
    write_csv,
)
from bot.editor.faq_yaml import FaqFileError, check_file_name
from bot.kb.corpus import ID_PATTERN, MAX_TEXT_CHARS, FaqEntry, Issue, load_texts

__all__ = ["ImportPlan", "RowError", "export_csv", "file_name", "plan_import"]

LISTS = ("alternates", "tags")
FIELDS = ("question", "alternates", "answer", "tags", "file")  # what an update may change
_WHAT = {"question": "the question customers ask", "answer": "what the bot answers"}


@dataclass
class ImportPlan:
    """What an import would do. ``changes`` carry the revision each update or delete started from,
    so applying them later is checked for conflicts like any editor's save. Apply only when
    ``errors`` is empty; ``warnings`` (such as a phrasing in two entries) do not block."""

    changes: list[Change]
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    deleted: list[str]
    errors: list[RowError]
    warnings: list[RowError] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # entry id -> its CSV row
    before: dict[str, FaqEntry] = field(default_factory=dict)  # updated or deleted entries as they are

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        items = []
        for change in self.changes:
            old = self.before.get(change.id)
            item: dict[str, Any] = {"id": change.id, "row": self.rows.get(change.id),
                                    "change": change.to_json()}
            if change.op == DELETE and old is not None:
                item.update(kind="deleted", entry=entry_json(old))
            elif old is None and change.entry is not None:
                item.update(kind="added", entry=entry_json(change.entry))
            elif change.entry is not None and old is not None:
                before, after = _fields(old), _fields(change.entry)
                item.update(kind="updated", diff={k: {"before": before[k], "after": after[k]}
                                                  for k in FIELDS if before[k] != after[k]})
            items.append(item)
        return {"ok": self.ok, "changes": items, "added": self.added, "updated": self.updated,
                "unchanged": self.unchanged, "deleted": self.deleted,
                "errors": [e.to_json() for e in self.errors],
                "warnings": [w.to_json() for w in self.warnings]}


def export_csv(entries: Sequence[FaqEntry]) -> str:
    """Every entry as a CSV row (with a BOM, ``\\r\\n`` between rows); encode it as UTF-8."""
    return write_csv([e.id, e.question, join(e.alternates), e.answer, join(e.tags), file_name(e.file)]
                     for e in entries)


def file_name(path: str) -> str:
    """The name the CSV gives an entry's file: the editor's name for it (relative to the FAQ folder,
    like ``shipping.yml`` or ``team/billing.yml``); a path as ``load_corpus`` gives it becomes the
    file's own name."""
    try:
        return check_file_name(path) if path else ""
    except FaqFileError:
        return PurePath(path.replace("\\", "/")).name


def plan_import(text: str | bytes, current: Sequence[FaqEntry], *, default_file: str,
                delete_missing: bool = False) -> ImportPlan:
    """Compare a CSV (as uploaded: bytes, or already decoded text) with the ``current`` entries.

    Args:
        default_file: the file a new entry goes to when its row names none.
        delete_missing: plan to delete every current entry whose id no row carries.
    """
    check_file_name(default_file)  # a FaqFileError (ValueError) for a bad one: the caller's mistake
    plan = ImportPlan([], [], [], [], [], [])
    records = read_records(text, plan.errors)
    if records is None:
        return plan
    known_files: dict[str, str] = {}
    for e in current:
        known_files.setdefault(file_name(e.file), e.file)
    by_id = {e.id: e for e in current}
    first_row: dict[str, int] = {}
    rows = [(n, *_row(n, header, cells, first_row, plan)) for n, header, cells in records]
    taken = set(by_id) | set(first_row)
    seen = set(first_row)  # a row with errors still keeps its entry from being deleted
    # a row without an id is the entry with the same question, if one exists and no row names it
    by_question = {_same_text(e.question): e.id for e in current if e.id not in first_row}
    for n, values, ok in rows:
        if not ok:
            continue
        entry_id = values["id"] or by_question.pop(_same_text(values["question"]), None) \
            or _slug(values["question"], taken)
        seen.add(entry_id)
        plan.rows[entry_id] = n
        old = by_id.get(entry_id)
        name = values["file"]
        if old is not None and (not name or name == file_name(old.file)):
            file = old.file
        else:
            name = name or default_file
            file = known_files.get(name, name)
        new = FaqEntry(id=entry_id, question=values["question"], answer=values["answer"],
                       alternates=tuple(values["alternates"]), tags=tuple(values["tags"]),
                       thresholds=dict(old.thresholds) if old else {}, file=file)
        if old is None:
            plan.added.append(entry_id)
            plan.changes.append(Change(SAVE, entry_id, new, None))
        elif _fields(_canonical(old)) == _fields(new):
            plan.unchanged.append(entry_id)
        else:
            plan.updated.append(entry_id)
            plan.before[entry_id] = old
            plan.changes.append(Change(SAVE, entry_id, new, revision(old)))
    if delete_missing:
        for e in current:
            if e.id not in seen:
                plan.deleted.append(e.id)
                plan.before[e.id] = e
                plan.changes.append(Change(DELETE, e.id, None, revision(e)))
    if plan.changes:
        _check_result(applied(current, plan.changes), plan)
    return plan


def _same_text(text: str) -> str:
    return " ".join(text.lower().split())


def _canonical(entry: FaqEntry) -> FaqEntry:
    """``entry`` as its exported row reads back."""
    def back(items: Sequence[str]) -> tuple[str, ...]:
        return tuple(split(clean(guard(join(items)))))
    return FaqEntry(id=entry.id, question=clean(guard(entry.question)), answer=clean(guard(entry.answer)),
                    alternates=back(entry.alternates), tags=back(entry.tags), file=entry.file)


def _fields(entry: FaqEntry) -> dict[str, Any]:
    return {"question": entry.question, "alternates": list(entry.alternates), "answer": entry.answer,
            "tags": list(entry.tags), "file": file_name(entry.file)}


def _slug(question: str, taken: set[str]) -> str:
    """An id from the question's words ("How do I pay?" -> "how-do-i-pay"), not in ``taken``."""
    ascii_text = unicodedata.normalize("NFKD", question).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_text)
    base = words[0][:48] if words else "entry"
    for word in words[1:]:
        if len(base) + 1 + len(word) > 48:
            break
        base += "-" + word
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


# --- one row ------------------------------------------------------------------------------------

def _row(n: int, header: list[str], record: list[str], first_row: dict[str, int],
         plan: ImportPlan) -> tuple[dict[str, Any], bool]:
    """One record's cleaned values by column, and whether it is free of errors."""
    before = len(plan.errors)

    def err(column: str | None, message: str) -> None:
        plan.errors.append(RowError(n, column, message))

    cells = dict.fromkeys(COLUMNS, "")
    for k, cell in enumerate(record):
        name = header[k] if k < len(header) else ""
        if name:
            cells[name] = cell
        elif cell.strip():
            err(None, f"cell {letter(k)}{n} holds text but its column has no name in the header: "
                      f"{'name the column' if k < len(header) else 'delete the cell'} (a cell holding "
                      "commas must be in double quotes)")
    values: dict[str, Any] = {c: clean(cells[c]) for c in COLUMNS}
    entry_id = values["id"]
    if entry_id and not ID_PATTERN.match(entry_id):
        err("id", f"the id {entry_id!r} must be a slug of lower-case letters, digits, '-' or '_' (like "
                  "'refund-time'); leave it empty for a new entry to get one from its question")
        values["id"] = ""
    elif entry_id in first_row:
        err("id", f"the id '{entry_id}' is also on row {first_row[entry_id]}: keep each entry on one row "
                  "(clear the id to make this row a new entry)")
    elif entry_id:
        first_row[entry_id] = n
    for key in REQUIRED:
        if not values[key]:
            err(key, f"the {key} is empty: write {_WHAT[key]}")
        elif len(values[key]) > MAX_TEXT_CHARS:
            err(key, f"the {key} is {len(values[key])} characters long; keep it under {MAX_TEXT_CHARS}")
    for key in LISTS:
        items = values[key] = split(values[key])
        if len(items) > MAX_ITEMS:
            err(key, f"{len(items)} {key}; at most {MAX_ITEMS} (one per line)")
        for k, item in enumerate(items, start=1):
            if len(item) > MAX_TEXT_CHARS:
                err(key, f"line {k} is {len(item)} characters long; keep each under {MAX_TEXT_CHARS}")
    for tag in values["tags"]:
        if "," in tag:
            plan.warnings.append(RowError(n, "tags", f"the tag {tag!r} holds a comma: put one tag per line "
                                                     "(Alt+Enter in Excel, Ctrl+Enter in Google Sheets)"))
    try:
        check_file_name(values["file"]) if values["file"] else None
    except FaqFileError as exc:
        err("file", f"{exc} (or leave it empty for the entry's own file)")
    return values, len(plan.errors) == before


# --- the corpus's own checks -------------------------------------------------------------------

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _check_result(entries: list[FaqEntry], plan: ImportPlan) -> None:
    """Run the corpus's validator over the entries as the import would leave them, and add what it
    finds about a changed entry to the plan, at the row of that entry (or of the entry it names)."""
    by_id = {e.id: e for e in entries}
    changed = {c.id for c in plan.changes if c.op == SAVE}
    for issue in _validate(entries):
        named = re.findall(r"entry '([^']+)'", issue.message)
        entry_id = next((i for i in [issue.entry_id, *named] if i in changed), None)
        if entry_id is None:
            continue  # it was there before the import
        row_error = RowError(plan.rows[entry_id], _column(issue.message, by_id[entry_id]), issue.message)
        (plan.errors if issue.level == "error" else plan.warnings).append(row_error)


def _validate(entries: list[FaqEntry]) -> list[Issue]:
    """The corpus's checks, as ``kb validate`` runs them, over ``entries`` written as one FAQ file."""
    faqs = [{"id": e.id, "question": e.question, "answer": e.answer,
             **{k: v for k, v in (("alternates", list(e.alternates)), ("tags", list(e.tags)),
                                  ("thresholds", dict(e.thresholds))) if v}} for e in entries]
    text = yaml.dump({"faqs": faqs}, Dumper=_Dumper, allow_unicode=True, sort_keys=False)
    return load_texts({"import.yml": text}).issues


def _column(message: str, entry: FaqEntry) -> str | None:
    phrasing = re.match(r"phrasing (.+) also belongs to entry", message)
    if phrasing:
        text = ast.literal_eval(phrasing.group(1))
        return "question" if text.lower().split() == entry.question.lower().split() else "alternates"
    if "duplicate id" in message:
        return "id"
    named = [c for c in COLUMNS if f"'{c}'" in message]
    return named[0] if named else ("alternates" if "alternate" in message else None)

"""Writing entries back into the FAQ's YAML files so that a ``git diff`` shows only what the editor
changed: ruamel.yaml's round trip keeps comments, key order and quoting of everything else.

Edits happen in place (``ruamel.yaml``); removing an entry and adding one work on the text, so the
comment above the next entry stays with it and a new entry is set off by a blank line, as people
write these files.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any, Iterable

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from bot.editor.changes import DELETE, Change
from bot.kb.corpus import FaqEntry

KEY_ORDER = ("id", "question", "alternates", "answer", "tags", "thresholds")
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.ya?ml$")
FOLDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
NEW_FILE_HEADER = "# FAQ entries (data/faq). Written by the editor page; edit by hand as you like.\n"


class FaqFileError(ValueError):
    """A file cannot be edited as asked; the message names it and says why."""


def check_file_name(name: str) -> str:
    """A file name inside the FAQ folder: ``shipping.yml`` or ``team/billing.yaml``."""
    parts = name.split("/")
    if not all(FOLDER_NAME.match(p) for p in parts[:-1]) or not FILE_NAME.match(parts[-1]):
        raise FaqFileError(f"file {name!r}: use a name such as 'shipping.yml' (letters, digits, '-', '_'; "
                           "ending in .yml or .yaml), inside the FAQ folder")
    return name


def _yaml() -> YAML:
    y: Any = YAML()  # its attributes are untyped
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap a long line someone wrote
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _dump(data: Any) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def _scalar(text: str) -> str:
    return LiteralScalarString(text + "\n") if "\n" in text else text


def _values(entry: FaqEntry) -> dict[str, Any]:
    """What an entry's keys hold; empty lists and thresholds are left out."""
    tags = CommentedSeq(entry.tags)
    tags.fa.set_flow_style()
    return {"id": entry.id, "question": _scalar(entry.question),
            "alternates": CommentedSeq(entry.alternates) if entry.alternates else None,
            "answer": _scalar(entry.answer), "tags": tags if entry.tags else None,
            "thresholds": CommentedMap(entry.thresholds) if entry.thresholds else None}


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, str) and isinstance(new, str):
        return old.strip() == new.strip()
    if isinstance(old, list) and isinstance(new, list):
        return [str(x).strip() for x in old] == [str(x).strip() for x in new]
    if isinstance(old, dict) and isinstance(new, dict):
        return {k: float(v) for k, v in old.items()} == {k: float(v) for k, v in new.items()}
    return old == new


def _update(item: CommentedMap, entry: FaqEntry) -> None:
    """Change ``item``'s keys to ``entry``'s, leaving untouched what did not change."""
    for key, value in _values(entry).items():
        if value is None:
            if key in item:
                del item[key]
            continue
        old = item.get(key)
        if old is not None and _same(old, value):
            continue
        if isinstance(old, CommentedSeq) and isinstance(value, list):
            old[:] = list(value)  # keeps the list's style (block or [flow]) and its comments
        elif key in item:
            item[key] = value
        else:
            later = [k for k in KEY_ORDER[KEY_ORDER.index(key) + 1:] if k in item]
            item.insert(list(item.keys()).index(later[0]) if later else len(item), key, value)


def _items(doc: Any, name: str) -> CommentedSeq:
    faqs = doc.get("faqs") if isinstance(doc, dict) else None
    if not isinstance(faqs, CommentedSeq):
        raise FaqFileError(f"{name}: has no top-level 'faqs:' list to edit; fix the file first")
    return faqs


def _position(faqs: CommentedSeq, entry_id: str) -> int | None:
    for n, item in enumerate(faqs):
        if isinstance(item, dict) and item.get("id") == entry_id:
            return n
    return None


def _without_item(text: str, entry_id: str, name: str) -> str:
    """``text`` without the entry ``entry_id`` and the comment lines just above it; comments and
    blank lines that end its block belong to the next entry and stay."""
    doc = _yaml().load(text)
    faqs = _items(doc, name)
    n = _position(faqs, entry_id)
    if n is None:
        raise FaqFileError(f"{name}: has no entry {entry_id!r} to delete")
    if faqs.fa.flow_style():  # a [flow] list: no lines to cut; the round trip is exact enough
        del faqs[n]
        return _dump(doc)
    lines = text.splitlines(keepends=True)
    start = faqs.lc.item(n)[0]
    end = faqs.lc.item(n + 1)[0] if n + 1 < len(faqs) else len(lines)
    if n + 1 == len(faqs):  # the last entry: what follows at a lower indent is another key
        column = faqs.lc.item(n)[1]
        for row in range(start + 1, len(lines)):
            stripped = lines[row].strip()
            indent = len(lines[row]) - len(lines[row].lstrip())
            if stripped and not stripped.startswith("#") and indent < column:
                end = row
                break
    keep_from = end
    while keep_from > start + 1 and (not lines[keep_from - 1].strip()
                                     or lines[keep_from - 1].lstrip().startswith("#")):
        keep_from -= 1
    if n + 1 == len(faqs):  # nothing follows to keep a comment for
        keep_from = end
    cut_from = start
    while cut_from > 0 and lines[cut_from - 1].lstrip().startswith("#") \
            and not lines[cut_from - 1].startswith("#"):  # indented comments above it: about it
        cut_from -= 1
    while keep_from < len(lines) and not lines[keep_from].strip() and cut_from > 0 \
            and not lines[cut_from - 1].strip():  # one blank line between entries is enough
        keep_from += 1
    rest = lines[:cut_from] + lines[keep_from:]
    if len(faqs) == 1:
        return re.sub(r"(?m)^faqs:[ \t]*$", "faqs: []", "".join(rest), count=1)
    return "".join(rest)


def _with_items(text: str, entries: Iterable[FaqEntry], name: str) -> str:
    """``text`` with ``entries`` appended to its ``faqs`` list, each after a blank line."""
    entries = list(entries)
    if not entries:
        return text
    doc = _yaml().load(text) if text.strip() else None
    if doc is None:
        doc = CommentedMap(faqs=CommentedSeq())
        text = NEW_FILE_HEADER + "faqs: []\n"
    faqs = _items(doc, name)
    if faqs.fa.flow_style() or list(doc.keys())[-1] != "faqs":
        for entry in entries:  # not the usual layout: let the round trip place them
            faqs.append(CommentedMap((k, v) for k, v in _values(entry).items() if v is not None))
        return _dump(doc)
    block = _dump(CommentedMap(faqs=CommentedSeq(
        CommentedMap((k, v) for k, v in _values(e).items() if v is not None) for e in entries)))
    items = block.split("\n", 1)[1]  # what follows "faqs:"
    items = re.sub(r"(?m)^(  - id:)", r"\n\1", items)  # a blank line before each new entry
    if not faqs:
        return re.sub(r"(?m)^faqs:[ \t]*\[\][ \t]*$", "faqs:", text, count=1).rstrip("\n") + "\n" \
            + items.lstrip("\n")
    return text.rstrip("\n") + "\n" + items


def apply_changes(texts: dict[str, str], located: dict[str, str], changes: Iterable[Change],
                  default_file: str) -> dict[str, str]:
    """The new text of every file the ``changes`` touch (``texts``: name -> text; ``located``:
    entry id -> the file it is in now). A saved entry stays in its file unless its ``file`` names
    another (it moves there); a new one goes to its ``file`` or ``default_file``."""
    updates: dict[str, dict[str, FaqEntry]] = {}
    deletes: dict[str, list[str]] = {}
    adds: dict[str, list[FaqEntry]] = {}
    for change in changes:
        here = located.get(change.id)
        if change.op == DELETE:
            if here is None:
                raise FaqFileError(f"entry {change.id!r} is in no FAQ file; nothing to delete")
            deletes.setdefault(here, []).append(change.id)
            continue
        assert change.entry is not None
        target = check_file_name(change.entry.file or here or default_file)
        if here == target:
            updates.setdefault(here, {})[change.id] = change.entry
        else:
            if here is not None:
                deletes.setdefault(here, []).append(change.id)
            adds.setdefault(target, []).append(change.entry)
    out: dict[str, str] = {}
    for name in sorted(set(updates) | set(deletes) | set(adds)):
        text = texts.get(name, "")
        if name in updates:
            doc = _yaml().load(text)
            faqs = _items(doc, name)
            for entry_id, entry in updates[name].items():
                n = _position(faqs, entry_id)
                if n is None:
                    raise FaqFileError(f"{name}: has no entry {entry_id!r} to change")
                _update(faqs[n], entry)
            text = _dump(doc)
        for entry_id in deletes.get(name, []):
            text = _without_item(text, entry_id, name)
        out[name] = _with_items(text, adds.get(name, []), name)
    return out


def read_folder(folder: Path) -> dict[str, str]:
    """Every FAQ file under ``folder``: relative name -> text (bytes that are not UTF-8 are kept
    as replacement characters here; the validator reports such a file)."""
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p.read_bytes().decode("utf-8", errors="replace")
            for p in sorted(folder.rglob("*")) if p.suffix in (".yml", ".yaml") and p.is_file()}

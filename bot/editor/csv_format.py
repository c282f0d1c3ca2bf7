"""The FAQ's CSV file format, both ways: cells a spreadsheet cannot mistake for formulas, lists
one item a line in a cell, and reading an upload into checked rows (what the editor's import plans
from, ``bot.editor.csv_io``).

Python's ``csv`` (RFC 4180), columns ``id, question, alternates, answer, tags, file``. A cell a
spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or CR, OWASP's
list, after any run of ``'``) gets one ``'`` in front, which :func:`unguard` takes away again, so
export then import is the identity. The export starts with a UTF-8 BOM (Excel needs it); the reader
takes text with or without one, comma-, semicolon- or tab-separated (as Excel saves in some locales).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

COLUMNS = ("id", "question", "alternates", "answer", "tags", "file")
REQUIRED = ("question", "answer")
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
BOM = "\ufeff"
FORMULA = re.compile(r"'*[=+\-@\t\r]")
_SAVE_AS = ("save it from your spreadsheet as 'CSV UTF-8' (Excel) or as CSV with the character set "
            "Unicode (UTF-8) (LibreOffice, Google Sheets: File > Download > CSV)")
_HELP = "the columns are question and answer, and optionally " + ", ".join(
    c for c in COLUMNS if c not in REQUIRED)


@dataclass(frozen=True)
class RowError:
    """A problem at one CSV row as a spreadsheet numbers it (the header is row 1; 0 means the file
    as a whole), in one column or the whole row (None)."""

    row: int
    column: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "the file"
        return f"{where}{f', column {self.column}' if self.column else ''}: {self.message}"


def write_csv(rows: Iterable[Sequence[str]]) -> str:
    """The header and ``rows`` (cells in ``COLUMNS`` order), each cell guarded, with a BOM."""
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: quotes where needed, "\r\n" between records
    writer.writerow(COLUMNS)
    writer.writerows([guard(cell) for cell in row] for row in rows)
    return BOM + out.getvalue()


def guard(cell: str) -> str:
    return "'" + cell if FORMULA.match(cell) else cell


def unguard(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and FORMULA.match(cell) else cell


def join(items: Sequence[str]) -> str:
    """One item a line; a line break inside an item (the CSV cannot hold it) becomes a space."""
    return "\n".join(re.sub(r"\s*[\r\n]+\s*", " ", item) for item in items)


def clean(cell: str) -> str:
    return unguard(cell).replace("\r\n", "\n").replace("\r", "\n").strip()


def split(cell: str) -> list[str]:
    return [line.strip() for line in cell.split("\n") if line.strip()]


def _decode(text: str | bytes, errors: list[RowError]) -> str | None:
    try:
        data = text.encode("utf-8") if isinstance(text, str) else text
    except UnicodeEncodeError as exc:
        errors.append(RowError(0, None, f"the text holds {exc.object[exc.start]!r}, half of a character "
                                        f"(a broken surrogate pair): {_SAVE_AS}"))
        return None
    if len(data) > MAX_BYTES:
        errors.append(RowError(0, None, f"the file is {len(data) / 2 ** 20:.1f} MB; at most "
                                        f"{MAX_BYTES // 2 ** 20} MB: split it into several files"))
        return None
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"\xff\xfe", b"\xfe\xff")):
        kind = "UTF-16 text ('Unicode text')" if data[:1] in b"\xff\xfe" else "a spreadsheet workbook"
        errors.append(RowError(0, None, f"this is {kind}, not CSV in UTF-8: {_SAVE_AS}"))
        return None
    try:
        decoded = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        errors.append(RowError(0, None, f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} on line "
                                        f"{line}): {_SAVE_AS}"))
        return None
    if "\x00" in decoded:
        errors.append(RowError(0, None, f"the file holds binary data, not CSV text: {_SAVE_AS}"))
        return None
    return decoded


def _delimiter(text: str) -> str:
    """``,`` unless the first line names more of our columns split by ``;`` or a tab."""
    first = text.split("\n", 1)[0].lower()

    def known(sep: str) -> int:
        return sum(1 for name in first.split(sep) if name.strip().strip('"').strip() in COLUMNS)
    return max((",", ";", "\t"), key=known)


def read_records(text: str | bytes, errors: list[RowError]) -> list[tuple[int, list[str], list[str]]] | None:
    """The non-blank data rows (row number, header, cells) after checking the header; None when
    the file cannot be read as the FAQ's CSV (``errors`` says why)."""
    decoded = _decode(text, errors)
    if decoded is None:
        return None
    reader = csv.reader(io.StringIO(decoded, newline=""), delimiter=_delimiter(decoded), strict=True)
    raw: list[list[str]] = []
    try:
        for record in reader:
            if len(raw) > MAX_ROWS:
                errors.append(RowError(len(raw) + 1, None, f"more than {MAX_ROWS} entries; split the file "
                                                           "into several imports"))
                return None
            raw.append(record)
    except csv.Error as exc:
        fix = ("a cell holding commas, quotes or line breaks must be in double quotes, with each quote "
               "inside it doubled") if "field limit" not in str(exc) else "a cell is far too long"
        errors.append(RowError(len(raw) + 1, None, f"not valid CSV from this row on ({exc}): {fix}"))
        return None
    given = {c.strip().lower(): c.strip() for c in raw[0]} if raw else {}
    header = [c.strip().lower() for c in raw[0]] if raw else []
    names = [c for c in header if c]
    if not set(names) & set(COLUMNS):
        errors.append(RowError(1, None, "this is not the FAQ's CSV: the first row must be the header "
                                        f"naming the columns ({_HELP})"))
        return None
    for name in dict.fromkeys(names):
        if name not in COLUMNS:
            errors.append(RowError(1, name, f"unknown column '{given[name]}'; {_HELP}: rename or delete it"))
        elif names.count(name) > 1:
            errors.append(RowError(1, name, f"the column '{name}' appears {names.count(name)} times; keep one"))
    for name in REQUIRED:
        if name not in names:
            errors.append(RowError(1, name, f"there is no '{name}' column; {_HELP}"))
    if errors:
        return None
    rows = [(n, header, record) for n, record in enumerate(raw[1:], start=2) if any(c.strip() for c in record)]
    if not rows:
        errors.append(RowError(2, None, "there are no entries below the header"))
        return None
    return rows


def letter(k: int) -> str:
    return (letter(k // 26 - 1) if k >= 26 else "") + chr(ord("A") + k % 26)

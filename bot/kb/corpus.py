"""The FAQ corpus: YAML files with a top-level ``faqs:`` list, checked entry by entry."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
ENTRY_KEYS = {"id", "question", "alternates", "answer", "tags", "thresholds"}
THRESHOLD_KEYS = {"answer", "clarify", "margin"}
MAX_TEXT_CHARS = 5000


@dataclass(frozen=True)
class Issue:
    """One validation finding, located as precisely as the YAML allows."""

    level: str  # "error" or "warning"
    file: str
    line: int | None
    entry_id: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        who = f" [{self.entry_id}]" if self.entry_id else ""
        return f"{self.level}: {where}{who}: {self.message}"


class CorpusError(ValueError):
    """The corpus has errors; ``issues`` lists every one of them."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        errors = [i for i in issues if i.level == "error"]
        lines = "\n".join(str(i) for i in errors)
        super().__init__(f"the FAQ corpus has {len(errors)} error(s):\n{lines}")


@dataclass(frozen=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    alternates: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # Per-entry overrides of the decision thresholds: keys "answer", "clarify", "margin".
    thresholds: dict[str, float] = field(default_factory=dict)
    file: str = ""
    line: int = 0

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The question first, then each distinct alternate."""
        seen: dict[str, None] = {self.question: None}
        for alt in self.alternates:
            seen.setdefault(alt, None)
        return tuple(seen)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "alternates": list(self.alternates),
            "tags": list(self.tags),
            "thresholds": dict(self.thresholds),
            "file": self.file,
            "line": self.line,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FaqEntry:
        return cls(
            id=d["id"],
            question=d["question"],
            answer=d["answer"],
            alternates=tuple(d.get("alternates", ())),
            tags=tuple(d.get("tags", ())),
            thresholds=dict(d.get("thresholds", {})),
            file=d.get("file", ""),
            line=d.get("line", 0),
        )


@dataclass
class Corpus:
    entries: list[FaqEntry]
    issues: list[Issue]
    files: list[Path]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "warning"]

    def by_id(self) -> dict[str, FaqEntry]:
        return {e.id: e for e in self.entries}

    def content_hash(self) -> str:
        """A hash of what the index depends on (not of file layout or comments)."""
        payload = json.dumps(
            [[e.id, e.question, list(e.alternates), e.answer, list(e.tags), e.thresholds]
             for e in self.entries],
            ensure_ascii=False,
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# libyaml's parser when PyYAML was built with it (the wheels are): about 10x faster than the pure-Python
# one, which matters to an editor's publish (the FAQ is read on every publish and build).
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """A safe loader that records each mapping's line (1-based) under ``__line__``."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = yaml.constructor.SafeConstructor.construct_mapping(self, node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        key_lines = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key_lines[key_node.value] = key_node.start_mark.line + 1
        mapping["__key_lines__"] = key_lines
        return mapping


def corpus_files(path: Path) -> list[Path]:
    """The YAML files of a corpus given as one file or a folder (searched recursively)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    return []


def load_corpus(path: Path | str, strict: bool = True) -> Corpus:
    """Read and check every FAQ file under ``path``.

    Args:
        path: one YAML file or a folder of them.
        strict: raise :class:`CorpusError` when any error was found.
    """
    path = Path(path)
    issues: list[Issue] = []
    files = corpus_files(path)
    if not path.exists():
        issues.append(Issue("error", str(path), None, None,
                            "no such file or folder; pass --corpus with the FAQ file or folder"))
    elif not files:
        issues.append(Issue("error", str(path), None, None,
                            "no .yml or .yaml FAQ files found; add one with a top-level 'faqs:' list"))
    texts: dict[str, str | None] = {}
    for file in files:
        try:
            texts[str(file)] = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            issues.append(Issue("error", str(file), None, None,
                                f"not UTF-8 text ({exc.reason}); save it as UTF-8"))
            texts[str(file)] = None
    return check_texts(texts, issues, files, strict)


def load_texts(texts: dict[str, str], strict: bool = False) -> Corpus:
    """Check FAQ files given as ``{name: YAML text}`` (in that order) exactly as :func:`load_corpus`
    checks files on disk: what the editor validates before anything is written."""
    return check_texts(dict(texts), [], [Path(name) for name in texts], strict)


def check_texts(texts: dict[str, str | None], issues: list[Issue], files: list[Path],
                strict: bool) -> Corpus:
    entries: list[FaqEntry] = []
    seen: dict[str, FaqEntry] = {}
    owner_of_phrasing: dict[str, str] = {}
    for name, text in texts.items():
        for entry in ([] if text is None else _load_text(name, text, issues)):
            if entry.id in seen:
                first = seen[entry.id]
                issues.append(Issue("error", entry.file, entry.line, entry.id,
                                    f"duplicate id; first defined at {first.file}:{first.line}; "
                                    "give each entry its own id"))
                continue
            seen[entry.id] = entry
            entries.append(entry)
            for phrasing in entry.phrasings:
                key = _normalise(phrasing)
                other = owner_of_phrasing.setdefault(key, entry.id)
                if other != entry.id:
                    issues.append(Issue("warning", entry.file, entry.line, entry.id,
                                        f"phrasing {phrasing!r} also belongs to entry '{other}'; "
                                        "keep it in one entry only"))
    corpus = Corpus(entries=entries, issues=issues, files=files)
    if strict and corpus.errors:
        raise CorpusError(corpus.issues)
    return corpus


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _load_text(name: str, text: str, issues: list[Issue]) -> list[FaqEntry]:
    try:
        root, data = _parse(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        issues.append(Issue("error", name, line, None, f"malformed YAML: {problem}"))
        return []
    if data is None:
        issues.append(Issue("warning", name, None, None, "empty file; it adds no entries"))
        return []
    if not isinstance(data, dict) or "faqs" not in data:
        issues.append(Issue("error", name, 1, None, "the file must have a top-level 'faqs:' list"))
        return []
    faqs = data["faqs"]
    if not isinstance(faqs, list):
        line = data["__key_lines__"].get("faqs")
        issues.append(Issue("error", name, line, None, "'faqs' must be a list of entries ('- id: ...')"))
        return []
    item_lines = _item_lines(root)
    out = []
    for position, raw in enumerate(faqs, start=1):
        line = item_lines[position - 1] if position <= len(item_lines) else None
        entry = _check_entry(raw, name, position, line, issues)
        if entry is not None:
            out.append(entry)
    return out


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its data, from one pass of the parser."""
    loader = _LineLoader(text)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    finally:
        loader.dispose()


def _item_lines(root: yaml.Node | None) -> list[int]:
    """The line of each item of the top-level ``faqs`` list."""
    for key, value in getattr(root, "value", []):
        if getattr(key, "value", None) == "faqs" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _check_entry(raw: Any, file: str, position: int, item_line: int | None,
                 issues: list[Issue]) -> FaqEntry | None:
    if not isinstance(raw, dict):
        issues.append(Issue("error", file, item_line, None,
                            f"entry #{position} is not a mapping; write it as '- id: ...' with "
                            "question and answer keys"))
        return None
    line = raw.pop("__line__")
    key_lines: dict[str, int] = raw.pop("__key_lines__")
    raw_id = raw.get("id")
    entry_id = raw_id if isinstance(raw_id, str) else None
    before = len([i for i in issues if i.level == "error"])

    def err(key: str | None, message: str) -> None:
        issues.append(Issue("error", file, key_lines.get(key, line) if key else line, entry_id, message))

    for key in raw:
        if key not in ENTRY_KEYS:
            err(key, f"unknown key '{key}'; allowed keys: {', '.join(sorted(ENTRY_KEYS))}")
    if raw_id is None:
        err(None, f"entry #{position} has no 'id'; add a stable slug such as 'refund-time'")
    elif not isinstance(raw_id, str) or not ID_PATTERN.match(raw_id):
        err("id", f"id {raw_id!r} must be a slug of lower-case letters, digits, '-' or '_'")
    question = _text(raw, "question", err, required=True)
    answer = _text(raw, "answer", err, required=True)
    alternates = _text_list(raw, "alternates", err)
    tags = _text_list(raw, "tags", err)
    thresholds: dict[str, float] = {}
    if "thresholds" in raw:
        t = raw["thresholds"]
        if not isinstance(t, dict):
            err("thresholds", "'thresholds' must be a mapping with keys answer, clarify or margin")
        else:
            t.pop("__line__", None)
            t.pop("__key_lines__", None)
            for k, v in t.items():
                if k not in THRESHOLD_KEYS:
                    err("thresholds", f"unknown threshold '{k}'; use answer, clarify or margin")
                elif isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                    err("thresholds", f"threshold '{k}' must be a number between 0 and 1, got {v!r}")
                else:
                    thresholds[k] = float(v)
            if thresholds.get("clarify", 0) > thresholds.get("answer", 1):
                err("thresholds", "the clarify threshold must not exceed the answer threshold")
    if len([i for i in issues if i.level == "error"]) > before:
        return None
    if question and len(set(map(_normalise, alternates))) < len(alternates):
        issues.append(Issue("warning", file, key_lines.get("alternates", line), entry_id,
                            "the same alternate appears twice"))
    return FaqEntry(
        id=raw_id, question=question, answer=answer, alternates=tuple(alternates),  # type: ignore[arg-type]
        tags=tuple(tags), thresholds=thresholds, file=file, line=line,
    )


def _text(raw: dict, key: str, err, required: bool) -> str:
    value = raw.get(key)
    if value is None:
        if required:
            err(None, f"missing '{key}'")
        return ""
    if not isinstance(value, str):
        err(key, f"'{key}' must be text, got {type(value).__name__}")
        return ""
    value = value.strip()
    if not value:
        err(key, f"'{key}' is empty")
    elif len(value) > MAX_TEXT_CHARS:
        err(key, f"'{key}' is {len(value)} characters long; keep it under {MAX_TEXT_CHARS}")
    return value


def _text_list(raw: dict, key: str, err) -> list[str]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        err(key, f"'{key}' must be a list of texts ('- ...' lines)")
        return []
    out = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            err(key, f"'{key}' holds {item!r}; every item must be non-empty text")
        else:
            out.append(item.strip())
    return out

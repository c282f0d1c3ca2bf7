"""The knowledge-base operations behind ``supportbot kb`` and ``supportbot run``: plain functions
that return results and raise ``KbOpsError`` with what to fix; they never print."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from bot.kb import calibrate as cal
from bot.kb import entry_out, short, stand_ins
from bot.kb.build import BuildResult, build_index
from bot.kb.corpus import Corpus, CorpusError, load_corpus
from bot.kb.decision import Thresholds
from bot.kb.encoder import Encoder, EncoderError, load_encoder, model_name
from bot.kb.evaluate import QueryFileError, read_queries
from bot.kb.evidence import SIGNALS
from bot.kb.index import (
    IndexVersion,
    KbIndexError,
    current_path,
    embed_phrasings,
    load_thresholds,
    serving_name,
)
from bot.kb.models import corpus_encoder, fresh_tuned, held_out_rows, prune_models, read_manifest, same_options
from bot.kb.out_of_scope import OutOfScopeError, digest, normalised, save_examples
from bot.kb.out_of_scope import load as load_out_of_scope
from bot.settings import Settings

UNCHANGED = "the serving index is unchanged"


class KbOpsError(RuntimeError):
    """An operation could not run; the message says why and what to do."""


@dataclass
class CorpusSamples:
    """A corpus-only calibration's samples, the normalised text of each (``keys``), what they are."""

    samples: cal.Samples
    keys: list[str]
    in_scope: dict[str, int]
    source: str
    windows: short.ShortSamples | None = None  # windows of one or two content words (bot.kb.short)


def corpus_samples(version: IndexVersion, encoder: Encoder, index_dir: Path, vectors: np.ndarray | None,
                   examples: Sequence[str], ex_vectors: np.ndarray,
                   target_precision: float = cal.TARGET_PRECISION, refit: bool = True) -> CorpusSamples:
    """Leave-one-out over the phrasings, answer sentences of single-question entries, the generic
    out-of-scope questions and the editors' examples, each declined as served."""
    if vectors is None:
        vectors, _ = embed_phrasings(index_dir, encoder, version.texts)
    oos_texts = cal.generic_oos_questions()
    oos_vectors, _ = embed_phrasings(index_dir, encoder, oos_texts)
    rows = held_out_rows(version)  # a tuned model: only the phrasings it never trained on
    loo = cal.loo_rows(version.owners, rows)
    stand_in, in_scope = stand_ins.version_samples(  # entries with one phrasing: their answers
        version, vectors, lambda texts: embed_phrasings(index_dir, encoder, texts)[0], ex_vectors)
    samples = (cal.declined(cal.version_leave_one_out(version, vectors, rows), vectors[loo], ex_vectors)
               + stand_in
               + cal.declined(cal.query_samples(version, oos_vectors, [-1] * len(oos_texts), oos_texts),
                              oos_vectors, ex_vectors)
               + cal.declined(cal.query_samples(version, ex_vectors, [-1] * len(examples), list(examples)),
                              ex_vectors, ex_vectors, skip_self=True))
    keys = [normalised(version.texts[r]) for r in loo] + [""] * len(stand_in.labels) \
        + [normalised(t) for t in (*oos_texts, *examples)]
    # each phrasing asked as if its entry did not exist (``refit``: of an index rebuilt without it)
    outside, outside_keys = entry_out.version_samples(version, vectors, samples, keys, ex_vectors, rows, refit)
    samples, keys = samples + outside, keys + outside_keys
    windows = short.short_samples(version, vectors, lambda texts: embed_phrasings(index_dir, encoder, texts)[0],
                                  oos_texts, ex_vectors, rows)
    which = "phrasings held out of tuning" if rows is not None else "leave-one-out"
    in_scope = {"phrasings": len(loo), "entries_with_alternates": len(np.unique(version.owners[loo])),
                **in_scope}
    how = "asked of an index refitted without their entries" if refit else "held out of their entries"
    source = f"calibrated on the corpus ({stand_ins.describe(which, in_scope)} + phrasings {how}" \
             f" ({len(outside.labels)} in-domain out-of-scope) + generic out-of-scope" \
             f" + {len(examples)} from the out-of-scope file), target precision {target_precision}"
    if windows is not None:
        source += f"; short messages: {windows.windows} windows of 1-{short.SHORT_WORDS} content words" \
                  f" of {windows.entries} entries' phrasings"
    return CorpusSamples(samples, keys, in_scope, source, windows)


def example_vectors(index_dir: Path, encoder: Encoder, examples: Sequence[str], dim: int) -> np.ndarray:
    return embed_phrasings(index_dir, encoder, list(examples))[0] if examples \
        else np.zeros((0, dim), dtype=np.float32)


def calibrate_version(path: Path, encoder: Encoder, index_dir: Path, *,
                      vectors: np.ndarray | None = None, queries: Path | None = None,
                      target_precision: float = cal.TARGET_PRECISION,
                      oos_share: float = 0.25, out_of_scope: Sequence[str] = ()) -> tuple[Thresholds, dict]:
    """Calibrate the version at ``path`` and store its thresholds there, with the editors'
    ``out_of_scope`` examples (``bot.kb.out_of_scope``: samples, and the version's decline rule)."""
    version = IndexVersion(path)
    examples = list(out_of_scope)
    ex_vectors = example_vectors(index_dir, encoder, examples, version.index.d)
    in_scope: dict[str, int] = {}
    windows = None
    if queries is not None:
        labelled = read_queries(queries, set(version.by_id))
        index_of = {e.id: i for i, e in enumerate(version.entries)}
        q_vectors = encoder.encode([q.text for q in labelled], batch_size=128)
        samples = cal.declined(cal.query_samples(
            version, q_vectors, [index_of[q.expected] if q.expected else -1 for q in labelled],
            [q.text for q in labelled]), q_vectors, ex_vectors)
        source = f"calibrated on {queries.name}, target precision {target_precision}"
    else:
        corpus = corpus_samples(version, encoder, index_dir, vectors, examples, ex_vectors, target_precision)
        samples, in_scope, source, windows = corpus.samples, corpus.in_scope, corpus.source, corpus.windows
    thresholds, report = cal.choose_thresholds(samples, target_precision, oos_share,
                                               base=version.thresholds, source=source)
    thresholds, report["short"] = short.with_short(thresholds, windows, target_precision, oos_share)
    report["thresholds"] = thresholds.to_json()
    report["out_of_scope_examples"] = len(examples)
    report["calibrated_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if in_scope:
        report["in_scope"] = in_scope  # what the thresholds rest on (stand_ins.caveat reads it)
    save_examples(path, examples, ex_vectors)  # before the thresholds: their rewrite reloads the server
    cal.save(path, thresholds, report)
    return thresholds, report


def build(corpus: Corpus, index_dir: Path, encoder: Encoder, *, force: bool = False,
          progress: bool = False, calibrate: bool = True, target_precision: float = cal.TARGET_PRECISION,
          oos_share: float = 0.25, out_of_scope: Sequence[str] = (), **weights: float) -> BuildResult:
    """Build a new version (``weights``: the scoring signals', ``bot.kb.evidence``) and, unless
    told not to, calibrate it (with the ``out_of_scope`` examples) before it starts serving."""
    def hook(path: Path, vectors: np.ndarray, owners: np.ndarray) -> None:
        calibrate_version(path, encoder, index_dir, vectors=vectors, target_precision=target_precision,
                          oos_share=oos_share, out_of_scope=out_of_scope)

    signals: dict = weights  # the signals' weights only: build_index's other keywords stay unset
    return build_index(corpus, index_dir, encoder, force=force, progress=progress,
                       calibrate=hook if calibrate else None, out_of_scope=digest(out_of_scope), **signals)


def read_out_of_scope(settings: Settings, consequence: str = UNCHANGED) -> list[str]:
    """The examples of SUPPORTBOT_OUT_OF_SCOPE (none when the file is missing)."""
    try:
        return load_out_of_scope(settings.out_of_scope_path)
    except OutOfScopeError as exc:
        raise KbOpsError(f"{exc}\n{consequence}") from exc


def load_current(index_dir: Path) -> IndexVersion:
    return IndexVersion(current_path(index_dir))


def base_encoder(settings: Settings) -> Encoder:
    try:
        return load_encoder(settings.model)
    except EncoderError as exc:
        raise KbOpsError(str(exc)) from exc


def read_corpus(path: Path, consequence: str = UNCHANGED) -> Corpus:
    try:
        return load_corpus(path)
    except CorpusError as exc:
        raise KbOpsError(f"{exc}\n{consequence}") from exc


@dataclass
class Built:
    result: BuildResult
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        m = self.result.manifest
        if self.result.up_to_date:
            return f"index {self.result.name} is up to date ({m['entries']} entries); nothing to do"
        t = load_thresholds(self.result.path)
        return (f"built index {self.result.name}: {m['entries']} entries, {m['phrasings']} phrasings "
                f"({m['encoded']} newly encoded), {m['index_type']}, {self.seconds:.1f} s, "
                f"model {m['model']}; now serving\nthresholds: answer {t.answer}, margin {t.margin}, "
                f"clarify {t.clarify}; {t.source}")


def scoring(settings: Settings, target_precision: float | None = None,
            **weights: float | None) -> dict[str, float]:
    """The build's target precision and weights: a value given for this build wins over the setting."""
    chosen: dict[str, float] = {"target_precision": settings.target_precision if target_precision is None
                                else target_precision}
    for s in SIGNALS:
        given = weights.get(s.key)
        chosen[s.key] = getattr(settings, s.key) if given is None else given
    return chosen


def build_corpus(settings: Settings, corpus: Corpus, index: Path, *, force: bool = False,
                 calibrate: bool = True, progress: bool = False,
                 encoder: Encoder | None = None, **overrides: float | None) -> Built:
    """Build with the tuned model that fits the corpus (else the base model), the settings' weights
    and target precision unless ``overrides`` give others."""
    started = time.perf_counter()
    try:
        chosen, note = corpus_encoder(corpus, index, encoder or base_encoder(settings))
        result = build(corpus, index, chosen, force=force, progress=progress, calibrate=calibrate,
                       out_of_scope=read_out_of_scope(settings), **scoring(settings, **overrides))
    except (KbIndexError, EncoderError, ValueError) as exc:
        raise KbOpsError(f"{exc}\nthe build stopped; {UNCHANGED}") from exc
    notes = [note] if note else []
    if not result.up_to_date:
        notes += [c for c in [stand_ins.caveat(read_calibration(result.path))] if c]
    return Built(result, time.perf_counter() - started, notes)


def read_calibration(path: Path) -> dict:
    """The calibration report stored with a version ({} when it was not calibrated)."""
    try:
        return json.loads((path / "calibration.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def needs_tuning(settings: Settings) -> bool:
    """Whether no tuned model fits the FAQ's phrasings with today's default options (never for a
    FAQ tuning cannot learn from: ``bot.kb.tune.untunable``)."""
    from bot.kb.tune import TuneOptions, untunable  # training itself is imported on use

    corpus = load_corpus(settings.corpus_path)
    if untunable(corpus):
        return False
    tuned = fresh_tuned(settings.index_path, corpus, model_name(settings.model))
    return tuned is None or not same_options(read_manifest(tuned).get("options", {}), TuneOptions())


@dataclass
class Tuned:
    path: Path | None  # None when skipped
    manifest: dict
    up_to_date: bool
    built: Built | None  # None with build=False
    skipped: str = ""  # why nothing was tuned (a FAQ with one question per entry)


def tune_corpus(settings: Settings, corpus: Corpus, index: Path, options: Any = None, *,
                force: bool = False, build: bool = True, progress: bool = False,
                say: Callable[[str], None] = lambda _: None, **overrides: float | None) -> Tuned:
    """Adapt the encoder to the corpus (``bot.kb.tune``), then rebuild the index with it.
    ``say`` hears what training did as soon as it is done."""
    from bot.kb.tune import TuneError, TuneOptions, tune, untunable

    reason = "" if corpus.errors else untunable(corpus)
    if reason:  # nothing to learn from: the base model serves, built as asked
        say(f"not tuned: {reason}")
        result = None
    else:
        try:
            result = tune(corpus, index, settings.model, options or TuneOptions(), force=force,
                          progress=progress, log=say)
        except TuneError as exc:
            raise KbOpsError(str(exc)) from exc
    path, manifest, up_to_date = (result.path, result.manifest, result.up_to_date) if result \
        else (None, {}, False)
    if not build:
        return Tuned(path, manifest, up_to_date, None, reason or "")
    # a retrained model keeps its name: force the rebuild so the new weights serve
    built = build_corpus(settings, corpus, index, force=result is not None and not up_to_date,
                         progress=progress, **overrides)  # type: ignore[arg-type]  # weights, target only
    if path is not None:
        prune_models(index, keep={path.name})
    return Tuned(path, manifest, up_to_date, built, reason or "")


@dataclass
class Prepared:
    """What ``supportbot run`` did to the index before starting the servers."""

    built: Built | None = None
    tuned: Tuned | None = None
    problems: list[str] = field(default_factory=list)  # warnings: the bot still starts
    fatal: str | None = None  # no index can serve: the bot cannot start


def prepare_index(settings: Settings, progress: bool = False,
                  say: Callable[[str], None] = lambda _: None) -> Prepared:
    """Build the index if the FAQ changed; then, unless SUPPORTBOT_TUNE_ON_RUN is false, adapt the
    encoder to the FAQ when no tuned model fits its phrasings (tuning rebuilds with it). ``say``
    hears each step as it starts."""
    out = Prepared()
    say("FAQ index: checking data/faq against the serving version")
    try:
        corpus = read_corpus(settings.corpus_path)
        out.built = build_corpus(settings, corpus, settings.index_path, progress=progress)
    except KbOpsError as exc:
        if serving_name(settings.index_path) is None:
            out.fatal = f"the FAQ index could not be built: {exc}"
        else:
            out.problems.append(f"the FAQ has errors; the previous index keeps serving:\n{exc}")
        return out
    out.problems += [str(issue) for issue in corpus.warnings] + out.built.warnings
    say(out.built.summary())
    from bot.kb.tune import untunable

    reason = untunable(corpus)
    if settings.tune_on_run and reason:
        say(f"not adapting the encoder to the FAQ: {reason}")
    if settings.tune_on_run and not reason and needs_tuning(settings):
        say("adapting the encoder to the FAQ's phrasings (kb tune, about a minute; "
            "SUPPORTBOT_TUNE_ON_RUN=false skips this)")
        try:
            out.tuned = tune_corpus(settings, corpus, settings.index_path, progress=progress, say=say)
            if out.tuned.built:
                out.problems += out.tuned.built.warnings
                say(out.tuned.built.summary())
        except KbOpsError as exc:
            out.problems.append(f"tuning failed; the index built with the base model keeps serving: {exc}")
    return out


def check_queries(path: Path, version: IndexVersion):
    try:
        return read_queries(path, set(version.by_id))
    except QueryFileError as exc:
        raise KbOpsError(str(exc)) from exc

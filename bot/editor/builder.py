"""The background builder of the editor server: indexes each published version and hot-swaps it in.

One thread, newest publish first (older queued ones are superseded: the newest already contains
them). To serve an edit within a second, a version is switched in with the thresholds of the
version it replaces, the running action server is told at once, and only then is it calibrated
(the new thresholds are swapped in the same way, a fraction of a second later). The encoders stay
loaded between builds. When phrasings changed, the encoder is re-tuned in a child process once
publishing has been quiet for a while, and the FAQ is rebuilt with the tuned model. Encoding is
through the ONNX export (``bot.editor.encoders``): torch only ever loads in a child process.

Once real questions are labelled (``bot.inbox.labels``: inbox actions, votes), the serving
version is recalibrated from them (``bot.kb.traffic_calibration``) after each publish's corpus
calibration, and whenever SUPPORTBOT_RECALIBRATE_AFTER_LABELS new labelled questions arrived
since its last calibration from traffic (looked at every LABELS_EVERY_S seconds); always with
at least SUPPORTBOT_TRAFFIC_MIN_LABELS usable ones.

With a shared index (``bot.kb.shared``: PostgreSQL) each build holds the one build lock of all nodes,
and each version (and each recalibration of it) is published to the shared store before the action
servers are told.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

from bot.editor.encoders import EditorEncoders
from bot.editor.recipe import Recipe
from bot.editor.versions import BUILDING, FAILED, QUEUED, SERVING, SUPERSEDED, VersionStore
from bot.inbox.labels import Collected
from bot.kb.corpus import Corpus, load_corpus
from bot.kb.encoder import Encoder
from bot.kb.index import IndexVersion, current_path, serving_name
from bot.kb.models import fresh_tuned
from bot.kb.onnx_encoder import OnnxEncoder
from bot.kb.shared import SharedIndex, SharedIndexError
from bot.settings import Settings

log = logging.getLogger(__name__)
TUNE_AFTER_QUIET_S = 30.0  # re-tune once nobody has published for this long
LABELS_EVERY_S = 60.0  # how often the builder counts new labelled questions
# what a version is switched in with from the one it replaces, until its own calibration is done
CARRIED = ("thresholds.json", "calibration.json", "out_of_scope.json", "out_of_scope.npy")


class Builder:
    def __init__(self, settings: Settings, versions: VersionStore, notify: Callable[[], None] = lambda: None,
                 base: Encoder | None = None, tune: Callable[[Corpus], None] | None = None,
                 labels: Callable[[set[str]], Collected] | None = None):
        self.settings = settings
        self.versions = versions
        self.notify = notify  # tell the running bot to load the new version now
        self.tune = tune  # adapts the encoder to a corpus (slow; None: never)
        self._base = base
        self.encoders = EditorEncoders(settings)  # ONNX in this process, torch only in a child
        self._loaded: dict[str, Encoder] = {}
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_publish = 0.0
        self._tune_due = False
        self.tune_after_quiet = TUNE_AFTER_QUIET_S
        self._labels = labels  # the labelled questions of these entries (None: the inbox's tables)
        self.labels_every = LABELS_EVERY_S
        self._labels_checked = time.monotonic()
        self._shared: SharedIndex | None | bool = False  # False: not looked up yet
        self._rebuilds: dict[int, str] = {}  # version id -> why it is rebuilt though its FAQ is unchanged

    @property
    def shared(self) -> SharedIndex | None:
        if self._shared is False:
            self._shared = SharedIndex.from_settings(self.settings)
        return self._shared if isinstance(self._shared, SharedIndex) else None

    def _serve_now(self) -> None:
        """Publish the serving version to the shared store (several nodes), then tell the bot."""
        name = serving_name(self.settings.index_path)
        if self.shared is not None and name:
            self.shared.publish(name)
        self.notify()

    # -- the queue --------------------------------------------------------------------------------

    def submit(self, version_id: int) -> None:
        with self._wake:
            self._last_publish = time.monotonic()
            self._wake.notify()

    def start(self) -> Builder:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="faq-builder", daemon=True)
            self._thread.start()
            self.submit(0)  # versions queued before a restart are built now
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify()

    def warm(self) -> None:
        """Load the encoder the next build needs now, not on the first publish."""
        try:
            self.encoder_for(load_corpus(self.settings.corpus_path)).encode(["warm up"])
        except Exception as exc:  # noqa: BLE001 - a broken FAQ is reported when someone publishes
            log.warning("could not load the encoder ahead of the first publish: %s", exc)
        try:  # a check after serving that a restart interrupted
            self.encoders.recheck(IndexVersion(current_path(self.settings.index_path)))
        except Exception as exc:  # noqa: BLE001 - no serving version yet, or an unreadable one
            log.info("not re-checking the serving version's ONNX export: %s", exc)

    def _loop(self) -> None:
        self.warm()
        while not self._stop.is_set():
            try:
                busy = self.run_pending() or self._recheck() or self._maybe_tune() or self._maybe_recalibrate()
                if not busy:
                    with self._wake:
                        self._wake.wait(timeout=1.0)
            except Exception:  # noqa: BLE001 - the builder must outlive any one build
                log.exception("the FAQ builder failed; it goes on with the next publish")
                self._stop.wait(1.0)

    def run_pending(self) -> bool:
        """Build the newest queued version (older queued ones are superseded). False if none waits."""
        pending = self.versions.pending()
        if not pending:
            return False
        newest = pending[-1]
        for older in pending[:-1]:
            self.versions.set_build(older.id, SUPERSEDED, f"version {newest.id} was built instead")
        self.build(newest.id)
        return True

    # -- building ---------------------------------------------------------------------------------

    @property
    def base(self) -> Encoder:
        if self._base is None:
            self._base = self.encoders.load()
        return self._base

    def _load(self, path: Path) -> Encoder:
        key = str(path)
        if key not in self._loaded:
            self._loaded = {key: self.encoders.load(path)}  # one tuned model at a time
        return self._loaded[key]

    def encoder_for(self, corpus: Corpus) -> Encoder:
        """The model tuned on exactly these phrasings; else the tuned model serving now (trained on
        most of them: better than the base model until re-tuning catches up); else the base model."""
        index = self.settings.index_path
        tuned = fresh_tuned(index, corpus, self.base.name)
        if tuned is not None:
            return self._load(tuned)
        try:
            serving = IndexVersion(current_path(index)).model_path
        except Exception:  # noqa: BLE001 - no serving version, or an unreadable one: the base model
            serving = None
        if serving is not None and serving.is_dir():
            return self._load(serving)
        return self.base

    def encoder_of(self, version: IndexVersion) -> Encoder:
        """The encoder a built version's queries need (kept loaded like the builds' own)."""
        path = version.model_path
        return self._load(path) if path is not None and version.model != self.base.name else self.base

    def build(self, version_id: int) -> None:
        shared = self.shared
        if shared is None:
            return self._build(version_id)
        try:
            with shared.build_lock(on_wait=lambda: self.versions.set_build(
                    version_id, BUILDING, "waiting for another FAQ build to finish")):
                self._build(version_id)
        except SharedIndexError as exc:
            self.versions.set_build(version_id, FAILED, f"{exc}; the previous version keeps serving")
        return None

    def _build(self, version_id: int) -> None:
        started = time.perf_counter()
        self.versions.set_build(version_id, BUILDING, "indexing the FAQ")
        index = self.settings.index_path
        wanted = self.versions.get(version_id)
        try:
            corpus = load_corpus(self.settings.corpus_path)
            recipe = Recipe.from_settings(self.settings)
            encoder = self.encoder_for(corpus)
            previous = serving_name(index)

            def carry_thresholds(path: Path, vectors: object, owners: object) -> None:
                if previous:  # serve at once with the thresholds in force; calibrated right after
                    for name in CARRIED:
                        source = index / "versions" / previous / name
                        if source.exists():
                            shutil.copyfile(source, path / name)

            check = self.encoders.export_check(encoder) if isinstance(encoder, OnnxEncoder) else None
            rebuilt = self._rebuilds.pop(version_id, "")
            result = recipe.build(corpus, index, encoder, carry_thresholds, check,  # None: torch checks itself
                                  force=bool(rebuilt))
            self._serve_now()
            served = time.perf_counter() - started
            note = "" if corpus.content_hash() == wanted.corpus_hash else \
                " (the files changed again on disk meanwhile; what is on disk now was built)"
            note += f" ({rebuilt})" if rebuilt else ""
            if not result.up_to_date:
                self.versions.set_build(version_id, BUILDING, f"serving {result.name}; calibrating{note}",
                                        index_version=result.name, seconds=served)
                recipe.calibrate(result.path, encoder, index)
                self._serve_now()
                note = self.calibrate_from_traffic(result.path, encoder, recipe.out_of_scope) + note
            self._tune_due = self.tune is not None and fresh_tuned(index, corpus, self.base.name) is None
            self.versions.set_build(version_id, SERVING,
                                    f"serving {result.name}, calibrated ({encoder.name}){note}",
                                    index_version=result.name, seconds=served)
            log.info("FAQ version %d serving as index %s after %.2f s", version_id, result.name, served)
        except Exception as exc:  # noqa: BLE001 - whatever it was, the editor must see it
            log.exception("FAQ version %d did not build", version_id)
            self.versions.set_build(version_id, FAILED, f"{exc}; the previous version keeps serving")

    def _recheck(self) -> bool:
        """When the ONNX export failed its check on a version's phrasings after the version served
        (``EditorEncoders.check_later``), rebuild the latest version: its record then says so, and the
        action servers fall back to torch for it."""
        failed = self.encoders.failed_check()
        latest = self.versions.latest() if failed is not None else None
        if latest is None:
            return False
        why = "rebuilding: the ONNX export failed its check against torch after serving; torch then serves it"
        log.warning("FAQ version %d: %s (%s)", latest.id, why, failed)
        self._rebuilds[latest.id] = "rebuilt: the ONNX export failed its check against torch after serving"
        self.versions.set_build(latest.id, QUEUED, why)
        return True

    # -- re-tuning --------------------------------------------------------------------------------

    def _maybe_tune(self) -> bool:
        """Re-tune once publishing has been quiet, if the last build's phrasings have no tuned model."""
        quiet = time.monotonic() - self._last_publish >= self.tune_after_quiet
        if not self._tune_due or self.tune is None or not quiet:
            return False
        self._tune_due = False
        corpus = load_corpus(self.settings.corpus_path)
        if fresh_tuned(self.settings.index_path, corpus, self.base.name) is not None:
            return False
        log.info("re-tuning the encoder to the FAQ's new phrasings")
        self.tune(corpus)
        latest = self.versions.latest()
        if latest is not None and fresh_tuned(self.settings.index_path, corpus, self.base.name) is not None:
            self.versions.set_build(latest.id, QUEUED, "rebuilding with the re-tuned encoder")
        return True

    # -- calibrating from labelled real questions --------------------------------------------------

    def labelled(self, entry_ids: set[str]) -> Collected:
        if self._labels is not None:
            return self._labels(entry_ids)
        from bot.db import engine
        from bot.inbox.labels import collect

        return collect(engine(self.settings.handoff_db_url), entry_ids)

    def calibrate_from_traffic(self, path: Path, encoder: Encoder, out_of_scope: list[str]) -> str:
        """Recalibrate the version at ``path`` from the labelled questions if there are enough;
        returns what happened, for the build's detail (the corpus-only thresholds stay otherwise)."""
        from bot.kb.traffic_calibration import TooFewLabels, calibrate_from_traffic

        try:
            labels = self.labelled(set(IndexVersion(path).by_id))
            _, report = calibrate_from_traffic(
                path, encoder, self.settings.index_path, labels.questions, labels_report=labels.report,
                min_labels=self.settings.traffic_min_labels, target_precision=self.settings.target_precision,
                out_of_scope=out_of_scope, k=self.settings.search_k)
        except TooFewLabels as exc:
            log.info("not calibrating from traffic: %s", exc)
            return ""
        except Exception as exc:  # noqa: BLE001 - the corpus-only thresholds serve; the editor sees why
            log.exception("calibrating index %s from traffic failed", path.name)
            return f"; calibrating from labelled questions failed ({exc}), the corpus's thresholds serve"
        self._serve_now()
        return f"; recalibrated from {report['traffic']['labels']['usable']} labelled real questions"

    def new_labels(self, path: Path) -> int:
        """Labelled questions newer than those the version's last calibration from traffic used."""
        try:
            report = json.loads((path / "calibration.json").read_text("utf-8"))
        except (OSError, ValueError):
            report = {}
        since = ((report.get("traffic") or {}).get("labels") or {}).get("period", {}).get("to")
        cutoff = datetime.fromisoformat(since) if since else None
        version = IndexVersion(path)
        return sum(1 for q in self.labelled(set(version.by_id)).questions
                   if cutoff is None or (q.at is not None and q.at > cutoff))

    def _maybe_recalibrate(self) -> bool:
        """Every ``labels_every`` seconds: recalibrate the serving version from traffic once
        SUPPORTBOT_RECALIBRATE_AFTER_LABELS new labelled questions arrived."""
        wanted = self.settings.recalibrate_after_labels
        if not wanted or time.monotonic() - self._labels_checked < self.labels_every:
            return False
        self._labels_checked = time.monotonic()
        index = self.settings.index_path
        if serving_name(index) is None:
            return False
        path = current_path(index)
        if self.new_labels(path) < wanted:
            return False
        from bot.editor.recipe import Recipe

        done = self.calibrate_from_traffic(path, self.encoder_of(IndexVersion(path)),
                                           Recipe.from_settings(self.settings).out_of_scope)
        log.info("index %s, %s new labelled questions%s", path.name, wanted, done or ": too few usable")
        return bool(done)

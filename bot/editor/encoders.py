"""The editor process's encoders: the model through its ONNX export, with the backend the action
servers serve (SUPPORTBOT_ENCODER_BACKEND), so torch never loads in the editor. What needs torch runs
in a child process that exits (``bot.apps.child``): exporting a model that has no export yet, and
checking an export against torch's vectors of a phrasing set not checked before (a new phrasing).

That check takes half a minute on a slow machine, so a publish does not wait for it when the export
passed its latest check on at least half as many phrasings: the version serves on that check (its
record says "provisional") and the new set is checked in a background thread right after; a failure
is reported once by ``failed_check`` (the builder then rebuilds the version, and torch serves it).

When no export can serve (refused, or SUPPORTBOT_ENCODER_BACKEND=torch), the torch model loads in
this process, and the log says why.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from bot.kb.encoder import FALLBACK, Encoder, SentenceTransformerEncoder, model_name, packaged_model_path
from bot.kb.index import IndexVersion
from bot.kb.onnx_encoder import ExportError, OnnxEncoder, export_dir, read_export
from bot.settings import Settings

log = logging.getLogger(__name__)
PROVISIONAL_SHARE = 0.5  # an earlier check vouches for a new phrasing set at most twice its size
KEEP_REFUSED = 8
LATER_NICENESS = 10  # a check after serving yields the CPU to the servers
Child = Callable[..., Any]  # run_in_child(log_file, "module:function", *args)


def _run_in_child(log_file: Path, target: str, *args: Any) -> Any:
    from bot.apps.child import run_in_child

    return run_in_child(log_file, target, *args)


class EditorEncoders:
    def __init__(self, settings: Settings, child: Child = _run_in_child):
        self.settings = settings
        self.child = child
        self.log_file = settings.root / ".run" / "export.log"
        self._checks = threading.Condition()  # guards the checks after serving:
        self._due: tuple[str, str, list[str], dict] | None = None  # (key, model, texts, provisional record)
        self._running: str | None = None  # the key of the phrasings being checked
        self._thread: threading.Thread | None = None
        self._refused: dict[str, dict] = {}  # phrasings' key -> the record of their failed check, newest last
        self._failed: dict | None = None

    def _folder(self, model: str) -> tuple[Path, Path]:
        path = Path(model) if model else packaged_model_path()
        return path, export_dir(self.settings.index_path, path, model_name(model))

    def _export_in_child(self, model: str, texts: Sequence[str] = (), niceness: int = 0) -> dict:
        log.info("exporting/checking %s against torch on %d phrasings in a child process (log: %s)",
                 model_name(model), len(texts), self.log_file)
        return dict(self.child(self.log_file, "bot.kb.onnx_export:export_record", self.settings.index_path,
                               model, list(texts), niceness))

    def load(self, model: str | Path = "") -> Encoder:
        """``model`` ("" the base model of SUPPORTBOT_MODEL, else a tuned model's folder) through the
        first ONNX backend of SUPPORTBOT_ENCODER_BACKEND's fallback chain whose export loads; with no
        export yet, one is made in a child first; with none usable, torch here (logged)."""
        model = str(model or self.settings.model)
        chain = [b for b in FALLBACK[self.settings.encoder_backend] if b != "torch"]
        path, folder = self._folder(model)
        if chain and not read_export(folder):
            try:
                self._export_in_child(model)
            except Exception as exc:  # noqa: BLE001 - the torch fallback below says why
                log.warning("could not export %s to ONNX in a child process: %s", model_name(model), exc)
        why = "SUPPORTBOT_ENCODER_BACKEND=torch"
        for backend in chain:
            try:
                return OnnxEncoder(folder, backend, self.settings.encoder_threads)
            except ExportError as exc:
                why = f"{backend}: {exc}"
                log.warning("the editor does not encode with %s (%s)", backend, exc)
        log.warning("the editor loads torch to encode with %s in its own process (%s)", model_name(model), why)
        return SentenceTransformerEncoder(model or None, self.settings.encoder_threads)

    def export_check(self, encoder: OnnxEncoder) -> Callable[[list[str], np.ndarray], dict]:
        """How a build with ``encoder`` gets its version's ``encoder_export`` record: the export's
        remembered check on these phrasings; else, if its latest check passed on at least half as
        many phrasings, that one at once (marked provisional), these checked in the background after
        the version serves (``check_later``); else a check in a child now (torch's vectors of them)."""
        from bot.kb.onnx_export import remembered_record, texts_key

        def check(texts: list[str], vectors: np.ndarray) -> dict:
            model = encoder.ref  # what it was exported from: "" the packaged model, else a folder
            path, folder = self._folder(model)
            record = remembered_record(folder, self.settings.index_path, path, texts)
            with self._checks:
                refused = self._refused.get(texts_key(texts))
            if record is None and refused is not None:  # its check after serving failed: torch serves
                return refused
            if record is None:
                latest = remembered_record(folder, self.settings.index_path, path, None)
                record = self._provisional(encoder, latest, len(texts))
                if record is not None:
                    self.check_later(model, texts, record)
            if record is None:
                try:
                    record = self._export_in_child(model, texts)
                except Exception as exc:  # noqa: BLE001 - recorded: the version then serves with torch
                    log.exception("checking the ONNX export of %s in a child failed", encoder.name)
                    return {"error": f"checking the ONNX export of {encoder.name} failed ({exc}); torch serves "
                                     "this version"}
            checked = (record.get("checks") or {}).get(encoder.backend, {})
            if checked.get("digest") != encoder.digest or not checked.get("ok"):
                log.warning("the %s export the editor built with is not vouched for by the check (%s); the "
                            "action servers fall back as the record says", encoder.backend, checked)
            return record

        return check

    @staticmethod
    def _provisional(encoder: OnnxEncoder, latest: dict | None, phrasings: int) -> dict | None:
        """The export's latest checks as a record for ``phrasings`` phrasings not checked yet, if the
        variant ``encoder`` serves passed its latest on at least PROVISIONAL_SHARE as many."""
        checks = (latest or {}).get("checks") or {}
        mine = checks.get(encoder.backend) or {}
        fewest = min((int(c.get("phrasings", 0)) for c in checks.values()), default=0)
        if not (mine.get("ok") and mine.get("digest") == encoder.digest
                and fewest >= PROVISIONAL_SHARE * phrasings):
            return None
        return {**(latest or {}), "provisional": f"checked on an earlier set of {fewest} phrasings; these "
                f"{phrasings} are checked against torch after the version serves"}

    # -- checks after serving ----------------------------------------------------------------------

    def check_later(self, model: str, texts: Sequence[str], provisional: dict) -> None:
        """Check the export of ``model`` on ``texts`` in a child, in the background thread; a check
        still waiting there is dropped (the newest phrasings are the ones that serve)."""
        from bot.kb.onnx_export import texts_key

        key = texts_key(texts)
        with self._checks:
            if key in (self._running, self._due and self._due[0]):
                return  # these very phrasings are being checked, or are next
            if self._due is not None:
                log.info("dropping the pending check of %d phrasings: newer ones are due", len(self._due[2]))
            self._due = (key, model, list(texts), provisional)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run_checks, name="onnx-export-check", daemon=True)
                self._thread.start()
            self._checks.notify_all()

    def recheck(self, version: IndexVersion) -> None:
        """A version serving on a provisional record whose check did not finish (the editor was
        restarted meanwhile) is checked now, in the background."""
        from bot.kb.onnx_export import remembered_record

        record = version.manifest.get("encoder_export") or {}
        if "provisional" not in record:
            return
        model = str(version.model_path or "")
        path, folder = self._folder(model)
        if remembered_record(folder, self.settings.index_path, path, version.texts) is None:
            self.check_later(model, version.texts, record)

    def _run_checks(self) -> None:
        while True:
            with self._checks:
                if self._due is None:  # nothing more to check: the thread ends (check_later starts one)
                    self._thread = None
                    return
                key, model, texts, provisional = self._due
                self._due, self._running = None, key
            try:
                self._check_now(key, model, texts, provisional)
            except Exception:  # noqa: BLE001 - the thread must outlive any one check
                log.exception("the check of the ONNX export after serving failed")
            finally:
                with self._checks:
                    self._running = None
                    self._checks.notify_all()

    def _check_now(self, key: str, model: str, texts: list[str], provisional: dict) -> None:
        try:
            record = self._export_in_child(model, texts, niceness=LATER_NICENESS)
        except Exception as exc:  # noqa: BLE001 - the version is rebuilt with torch serving it
            log.exception("checking the ONNX export of %s after serving failed", model_name(model))
            record = {"error": f"checking the ONNX export of {model_name(model)} against torch after serving "
                               f"failed ({exc}); torch serves this version"}
        checks = record.get("checks") or {}
        failed = [b for b, c in (provisional.get("checks") or {}).items()
                  if c.get("ok") and not (checks.get(b) or {}).get("ok")]
        if "checks" in record and not failed:
            log.info("the ONNX export of %s passed its check on %d phrasings after serving",
                     model_name(model), len(texts))
            return
        log.warning("the ONNX export of %s failed its check on %d phrasings after serving (%s)",
                    model_name(model), len(texts), record.get("error") or ", ".join(failed))
        with self._checks:
            self._refused[key] = record
            while len(self._refused) > KEEP_REFUSED:
                self._refused.pop(next(iter(self._refused)))
            self._failed = {"phrasings": len(texts), "record": record}

    def failed_check(self) -> dict | None:
        """The latest check after serving that failed, once (then None until another fails)."""
        with self._checks:
            failed, self._failed = self._failed, None
        return failed

    def wait_for_checks(self, timeout: float | None = None) -> bool:
        """Wait until no check after serving runs or waits; False if some still does after ``timeout``."""
        with self._checks:
            return self._checks.wait_for(lambda: self._due is None and self._running is None, timeout)

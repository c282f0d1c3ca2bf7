"""The editor process's encoders: the model through its ONNX export, with the backend the action
servers serve (SUPPORTBOT_ENCODER_BACKEND), so torch never loads in the editor. What needs torch runs
in a child process that exits (``bot.apps.child``): exporting a model that has no export yet, and
checking an export against torch's vectors of a phrasing set not checked before (a new phrasing).

When no export can serve (refused, or SUPPORTBOT_ENCODER_BACKEND=torch), the torch model loads in
this process, and the log says why.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from bot.kb.encoder import FALLBACK, Encoder, SentenceTransformerEncoder, model_name, packaged_model_path
from bot.kb.onnx_encoder import ExportError, OnnxEncoder, export_dir, read_export
from bot.settings import Settings

log = logging.getLogger(__name__)
Child = Callable[..., Any]  # run_in_child(log_file, "module:function", *args)


def _run_in_child(log_file: Path, target: str, *args: Any) -> Any:
    from bot.apps.child import run_in_child

    return run_in_child(log_file, target, *args)


class EditorEncoders:
    def __init__(self, settings: Settings, child: Child = _run_in_child):
        self.settings = settings
        self.child = child
        self.log_file = settings.root / ".run" / "export.log"

    def _folder(self, model: str) -> tuple[Path, Path]:
        path = Path(model) if model else packaged_model_path()
        return path, export_dir(self.settings.index_path, path, model_name(model))

    def _export_in_child(self, model: str, texts: Sequence[str] = ()) -> dict:
        log.info("exporting/checking %s against torch on %d phrasings in a child process (log: %s)",
                 model_name(model), len(texts), self.log_file)
        return dict(self.child(self.log_file, "bot.kb.onnx_export:export_record", self.settings.index_path,
                               model, list(texts)))

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
        remembered check on these phrasings, else a check in a child (torch's vectors of them)."""
        from bot.kb.onnx_export import remembered_record

        def check(texts: list[str], vectors: np.ndarray) -> dict:
            model = encoder.ref  # what it was exported from: "" the packaged model, else a folder
            path, folder = self._folder(model)
            record = remembered_record(folder, self.settings.index_path, path, texts)
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

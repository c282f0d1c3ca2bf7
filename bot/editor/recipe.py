"""How the editor builds a version, the same for a publish and for a draft: the settings' scoring
weights and target precision, and the out-of-scope examples, read once per build."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.kb.build import BuildResult, Calibrate, ExportCheck, build_index
from bot.kb.corpus import Corpus
from bot.kb.encoder import Encoder
from bot.settings import Settings


@dataclass(frozen=True)
class Recipe:
    weights: dict[str, float]
    target_precision: float
    out_of_scope: list[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> Recipe:
        from bot.kb.ops import read_out_of_scope, scoring

        weights = scoring(settings)
        target = weights.pop("target_precision")
        return cls(weights, target, read_out_of_scope(settings))

    def build(self, corpus: Corpus, index_dir: Path, encoder: Encoder,
              before_switch: Calibrate | None = None, export_check: ExportCheck | None = None,
              force: bool = False) -> BuildResult:
        from bot.kb.out_of_scope import digest

        weights: dict = self.weights  # the signals' weights only: build_index's other flags stay unset
        return build_index(corpus, index_dir, encoder, calibrate=before_switch, export_check=export_check,
                           out_of_scope=digest(self.out_of_scope), force=force, **weights)

    def calibrate(self, path: Path, encoder: Encoder, index_dir: Path, vectors: Any = None) -> None:
        from bot.kb.ops import calibrate_version

        calibrate_version(path, encoder, index_dir, vectors=vectors, target_precision=self.target_precision,
                          out_of_scope=self.out_of_scope)

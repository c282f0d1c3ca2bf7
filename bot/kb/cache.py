"""A persistent embedding cache keyed by (model, text), so unchanged phrasings are not re-encoded."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from bot.db import sqlite_pragmas


class EmbeddingCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), timeout=30)
        sqlite_pragmas(self._db)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings ("
            " model TEXT NOT NULL, text TEXT NOT NULL, vector BLOB NOT NULL,"
            " PRIMARY KEY (model, text))"
        )

    def close(self) -> None:
        self._db.close()

    def get(self, model: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(texts))
        for start in range(0, len(unique), 500):
            chunk = unique[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT text, vector FROM embeddings WHERE model = ? AND text IN ({marks})",
                [model, *chunk],
            )
            for text, blob in rows:
                found[text] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, model: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings (model, text, vector) VALUES (?, ?, ?)",
                [(model, t, np.asarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vectors)],
            )

    def encode(self, model: str, texts: Sequence[str],
               encode: Callable[[list[str]], np.ndarray]) -> tuple[np.ndarray, int]:
        """Vectors for ``texts`` in order, encoding only those not cached; returns (vectors, n_encoded)."""
        cached = self.get(model, texts)
        missing = [t for t in dict.fromkeys(texts) if t not in cached]
        if missing:
            fresh = encode(missing)
            self.put(model, missing, fresh)
            cached.update(zip(missing, fresh))
        if not texts:
            return np.zeros((0, 0), dtype=np.float32), 0
        return np.stack([cached[t] for t in texts]).astype(np.float32), len(missing)

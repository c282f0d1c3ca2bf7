"""``supportbot editor``: the FAQ editor's page (``/editor/``) and its background builder, in one
process of their own: the encoders they keep loaded never burden the customer-facing servers. They
encode through the model's ONNX export, as the action servers do; torch only loads in the child
processes that export, check an export against torch, or tune (``bot.editor.encoders``).

Run one per deployment, on the machine whose ``data/faq`` is the source of truth; the other nodes'
action servers pick up each published index version from the shared ``kb_index`` (the one here
is told at once over ``POST /reload``).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from pathlib import Path
from typing import Any, Callable

from bot.keys import action_server_token
from bot.settings import Settings

log = logging.getLogger(__name__)
MAX_UPLOAD_BYTES = 6 * 1024 * 1024  # a CSV import
RECENT_QUESTIONS = 300  # the regression view asks the draft these many of customers' latest questions


def serving(index_dir: Path) -> dict[str, Any]:
    """The index version serving now, as the page shows it."""
    from bot.kb.index import KbIndexError, current_path

    try:
        path = current_path(index_dir)
        manifest = json.loads((path / "manifest.json").read_text("utf-8"))
    except (KbIndexError, OSError, ValueError):
        return {}
    keys = ("name", "corpus_hash", "model", "entries", "phrasings", "built_at")
    return {key: manifest.get(key) for key in keys}


def action_server_notifier(settings: Settings) -> Callable[[], None]:
    """Tell the action server (at SUPPORTBOT_ACTION_HOST) to load the new index version now (best
    effort: every action server also looks by itself every SUPPORTBOT_RELOAD_INTERVAL seconds)."""
    url = f"{settings.action_url}/reload"
    headers = {"Authorization": f"Bearer {action_server_token(settings)}"}

    def notify() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, b"", headers, method="POST"), timeout=5).close()
        except OSError as exc:
            log.info("could not tell the action server to reload (%s); it will find the version itself", exc)

    return notify


def tune_only(settings: Settings, corpus: Any) -> None:
    """Adapt the encoder to ``corpus`` without building (the builder rebuilds with it)."""
    from bot.kb.ops import tune_corpus

    tune_corpus(settings, corpus, settings.index_path, build=False)


def serve(settings: Settings) -> int:
    from sanic import Sanic

    from bot.apps.child import run_in_child
    from bot.db import engine
    from bot.editor.builder import Builder
    from bot.editor.calibration import calibration_view
    from bot.editor.drafts import Drafts
    from bot.editor.inbox import InboxGroups
    from bot.editor.service import EditorService
    from bot.editor.versions import VersionStore
    from bot.handoff.redact import install_log_redaction
    from bot.inbox.figures import entry_figures
    from bot.inbox.store import KINDS_STORED, InboxStore
    from bot.kb.validate import embedding_issues
    from bot.staff.accounts import StaffStore
    from bot.web.editor import EditorApp, blueprint

    logging.getLogger().setLevel(logging.INFO)
    install_log_redaction()
    db = engine(settings.handoff_db_url)
    versions = VersionStore(db)
    staff = StaffStore(db)
    service = EditorService(settings.corpus_path, versions, settings.index_path / ".editor.lock",
                            lambda: serving(settings.index_path).get("corpus_hash"))

    def tune(corpus: Any) -> None:
        run_in_child(settings.root / ".run" / "tune.log", "bot.apps.editor_server:tune_only", settings, corpus)

    builder = Builder(settings, versions, action_server_notifier(settings),
                      tune=tune if settings.tune_on_run else None)
    drafts = Drafts(settings, builder.encoder_for, builder.encoder_of)
    inbox = InboxStore(db, settings.phone_region)
    groups = InboxGroups(inbox, settings.index_path)
    app = Sanic("supportbot_editor")
    app.config.REQUEST_MAX_SIZE = MAX_UPLOAD_BYTES
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.blueprint(blueprint(EditorApp(
        lambda: staff, lambda: service, published=builder.submit, drafts=lambda: drafts,
        inbox=lambda: inbox, out_of_scope=settings.out_of_scope_path, groups=lambda: groups,
        recent=lambda: [q.question for q in inbox.questions(KINDS_STORED, RECENT_QUESTIONS)],
        figures=lambda: entry_figures(db),
        embedding_check=lambda corpus: embedding_issues(corpus, builder.encoder_for(corpus),
                                                        index_dir=settings.index_path,
                                                        answer_weight=settings.answer_weight),
        session_hours=lambda: settings.agent_session_hours, trusted_proxies=lambda: settings.proxy_list,
        serving=lambda: serving(settings.index_path),
        calibration=lambda: calibration_view(settings.index_path, builder.labelled, settings.traffic_min_labels,
                                             settings.recalibrate_after_labels))))
    from bot.canned.store import CannedStore
    from bot.web.canned import editor_blueprint

    canned = CannedStore(db)
    app.blueprint(editor_blueprint(lambda: staff, lambda: canned))  # the Canned replies tab
    _add_analytics(app, settings, staff, lambda: groups.get(drafts.live())["groups"])
    builder.start()
    log.info("FAQ editor on http://%s:%d/editor/", settings.host, settings.editor_port)
    app.run(host=settings.host, port=settings.editor_port, workers=1, access_log=False)
    builder.stop()
    return 0


def _add_analytics(app: Any, settings: Settings, staff: Any, groups: Callable[[], Any]) -> None:
    """The analytics page (``/analytics/``, bot.web.analytics) next to the editor: both are staff pages."""
    from bot.analytics.service import Analytics
    from bot.web.analytics import blueprint as analytics_page

    analytics = Analytics.from_settings(settings, groups=groups)
    app.blueprint(analytics_page(lambda: analytics, lambda: staff, settings.handoff_timezone,
                                 session_hours=lambda: settings.agent_session_hours,
                                 trusted_proxies=lambda: settings.proxy_list))

"""The FAQ editor's page and JSON API (mounted at ``/editor`` by ``bot.apps.editor_server``).

Editors and admins change the FAQ; agents may read everything, try questions and validate, but not
publish (``bot.staff.auth``: session cookie, role, CSRF token on every POST). The rules live in
``bot.editor.service``; this module only translates HTTP.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any, Callable

from sanic import Blueprint, response
from sanic.request import Request

from bot.editor.changes import Change, ChangeError, entry_json, parse_changes
from bot.editor.csv_io import export_csv, plan_import
from bot.editor.drafts import Drafts
from bot.editor.inbox import InboxGroups
from bot.editor.service import DEFAULT_FILE, Conflict, EditorService, Invalid, issue_json
from bot.editor.versions import IMPORT, VersionNotFound
from bot.inbox.actions import not_ours
from bot.inbox.store import ALTERNATES, NEW_ENTRY, InboxActionError, InboxStore
from bot.kb.corpus import Corpus, Issue
from bot.kb.index import KbIndexError
from bot.staff.accounts import ADMIN, AGENT, EDITOR, StaffStore
from bot.staff.auth import SECURITY_HEADERS, add_error_handlers, add_login_routes, error, ok, staff_route
from bot.web.assets import page_routes

READERS = (AGENT, EDITOR, ADMIN)
WRITERS = (EDITOR, ADMIN)
STATIC = {"editor.js", "editor.css", "markdown.js", "editor_canned.js", "staff.js"}
VENDOR = {"marked.umd.js", "purify.min.js"}
MAX_MESSAGE_CHARS = 500


class EditorApp:
    """What the routes need: the staff accounts, the editor service and the settings' bits."""

    def __init__(self, staff: Callable[[], StaffStore], service: Callable[[], EditorService], *,
                 published: Callable[[int], None], session_hours: Callable[[], float],
                 trusted_proxies: Callable[[], list[str]],
                 drafts: Callable[[], Drafts], inbox: Callable[[], InboxStore], out_of_scope: Path,
                 recent: Callable[[], list[str]] = list,
                 groups: Callable[[], InboxGroups],
                 embedding_check: Callable[[Corpus], list[Issue]] = lambda corpus: [],
                 figures: Callable[[], dict[str, dict[str, int]]] = dict,
                 serving: Callable[[], dict[str, Any]] = dict,
                 calibration: Callable[[], dict[str, Any]] = dict):
        self.staff, self.service, self.published = staff, service, published  # published: build it
        self.drafts, self.recent = drafts, recent  # recent: customers' latest questions
        self.inbox, self.out_of_scope = inbox, out_of_scope  # the file "not ours" questions go to
        self.embedding_check = embedding_check  # kb validate's checks that need the encoder
        self.groups = groups  # the inbox's groups, remembered until the questions change
        self.session_hours, self.trusted_proxies = session_hours, trusted_proxies
        self.figures = figures  # per entry id: answered, clarify offers, votes, misses nearby
        self.serving = serving  # the index version serving now
        self.calibration = calibration  # what its thresholds rest on (bot.editor.calibration)


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.json, dict):
        raise ChangeError("send a JSON object")
    return request.json


def _question_ids(raw: Any) -> list[int]:
    if not isinstance(raw, list) or not raw or any(isinstance(i, bool) or not isinstance(i, int) for i in raw):
        raise ChangeError("question_ids: a non-empty list of the group's question ids (whole numbers)")
    return raw


def _inbox_action(raw: Any, changes: list[Change]) -> tuple[list[int], str] | None:
    """A publish's optional ``inbox``: the group it answers (``{"question_ids": [...], "action":
    "alternates" | "new_entry"}``), for exactly one saved entry."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("action") not in (ALTERNATES, NEW_ENTRY):
        raise ChangeError("inbox: send {question_ids, action} with action 'alternates' or 'new_entry'")
    if len(changes) != 1 or changes[0].op != "save":
        raise ChangeError("inbox: a group is answered by saving exactly one entry")
    return _question_ids(raw.get("question_ids")), raw["action"]


def _changes(body: dict[str, Any]) -> list[Change]:
    """The body's ``changes``; none (or an empty list) means the FAQ as it is."""
    return parse_changes(body["changes"]) if body.get("changes") else []


async def _off_loop(call: Callable[..., Any], *args: Any) -> Any:
    """Encoding and building take a while: not on the event loop that answers everyone else."""
    return await asyncio.get_running_loop().run_in_executor(None, call, *args)


def blueprint(app: EditorApp) -> Blueprint:
    bp = Blueprint("faq_editor", url_prefix="/editor")

    def route(roles: tuple[str, ...] = READERS, csrf: bool = True) -> Callable:
        guard = staff_route(app.staff, roles, csrf=csrf)

        def wrap(handler: Callable) -> Callable:
            @functools.wraps(handler)
            async def inner(request: Request, *args: Any, **kwargs: Any) -> response.HTTPResponse:
                try:
                    return await handler(request, *args, **kwargs)
                except ChangeError as exc:
                    return error(str(exc), 400)
                except VersionNotFound as exc:
                    return error(str(exc), 404)
                except InboxActionError as exc:
                    return error(str(exc), 409)
                except KbIndexError as exc:  # no index serving yet, or a broken one
                    return error(f"the FAQ index cannot be searched: {exc}", 503)
                except Conflict as exc:
                    return response.json({"error": "someone else changed this meanwhile: " + str(exc),
                                          "conflicts": exc.conflicts}, status=409, headers=SECURITY_HEADERS)
                except Invalid as exc:
                    return response.json({"error": "the FAQ would have errors; nothing was published",
                                          "issues": [issue_json(i) for i in exc.issues]},
                                         status=422, headers=SECURITY_HEADERS)
            return guard(inner)
        return wrap

    add_error_handlers(bp)

    add_login_routes(bp, app.staff, cookie_path="/editor", roles=READERS,
                     session_hours=app.session_hours, trusted_proxies=app.trusted_proxies)

    page_routes(bp, "editor.html", STATIC, SECURITY_HEADERS, VENDOR)

    @bp.route("/health", methods=["GET"])
    async def health(request: Request) -> response.HTTPResponse:
        return ok({"ok": True})

    @bp.route("/api/status", methods=["GET"])
    @route(csrf=False)
    async def status(request: Request) -> response.HTTPResponse:
        return ok({**app.service().status(), "serving": app.serving(),
                   "can_publish": request.ctx.staff.role in WRITERS})

    @bp.route("/api/calibration", methods=["GET"])
    @route(csrf=False)
    async def calibration(request: Request) -> response.HTTPResponse:
        return ok(await _off_loop(app.calibration))

    @bp.route("/api/entries", methods=["GET"])
    @route(csrf=False)
    async def entries(request: Request) -> response.HTTPResponse:
        disk = app.service().read()
        figures = app.figures()
        rows = [{**entry_json(e), "figures": figures.get(e.id, {})} for e in disk.corpus.entries]
        return ok({"entries": rows,
                   "files": sorted(disk.texts),
                   "errors": [issue_json(i) for i in disk.corpus.errors]})

    @bp.route("/api/validate", methods=["POST"])
    @route()
    async def validate(request: Request) -> response.HTTPResponse:
        changes = parse_changes(_body(request).get("changes"))
        service = app.service()
        disk = service.read()
        try:
            corpus, _ = service.draft(changes, disk)
        except Invalid as exc:
            return ok({"issues": [issue_json(i) for i in exc.issues], "conflicts": []})
        ids = {c.id for c in changes}
        issues = list(corpus.issues)
        if not corpus.errors:
            issues += await _off_loop(app.embedding_check, corpus)
        issues = [i for i in issues if i.entry_id in ids or i.entry_id is None
                  or any(f"'{entry_id}'" in i.message for entry_id in ids)]  # "... entry 'x' ..."
        return ok({"issues": [issue_json(i) for i in issues], "conflicts": service.conflicts(changes, disk)})

    def draft_corpus(changes: list[Change]) -> Any:
        corpus, _ = app.service().draft(changes)
        if corpus.errors:
            raise Invalid(corpus.issues)
        return corpus

    @bp.route("/api/try", methods=["POST"])
    @route()
    async def try_it(request: Request) -> response.HTTPResponse:
        body = _body(request)
        question = body.get("question")
        if not isinstance(question, str) or not question.strip() or len(question) > 1000:
            raise ChangeError("question: what a customer would ask (at most 1000 characters)")
        corpus = draft_corpus(_changes(body))
        return ok(await _off_loop(app.drafts().try_question, question, corpus))

    @bp.route("/api/regression", methods=["POST"])
    @route()
    async def regression(request: Request) -> response.HTTPResponse:
        corpus = draft_corpus(_changes(_body(request)))
        return ok(await _off_loop(app.drafts().regression, corpus, app.recent()))

    @bp.route("/api/publish", methods=["POST"])
    @route(WRITERS)
    async def publish(request: Request) -> response.HTTPResponse:
        body = _body(request)
        changes = parse_changes(body.get("changes"))
        message = body.get("message") or ""
        if not isinstance(message, str) or len(message) > MAX_MESSAGE_CHARS:
            raise ChangeError(f"message: text of at most {MAX_MESSAGE_CHARS} characters")
        group = _inbox_action(body.get("inbox"), changes)
        version = app.service().publish(changes, request.ctx.agent, message)
        app.published(version.id)
        answer: dict[str, Any] = {"version": version.to_json()}
        if group is not None:
            try:
                answer["inbox_action"] = app.inbox().act(group[0], group[1], request.ctx.agent, changes[0].id)
            except InboxActionError as exc:  # published all the same: say why the group stays
                answer["inbox_error"] = str(exc)
        return response.json(answer, status=202, headers=SECURITY_HEADERS)

    @bp.route("/api/inbox", methods=["GET"])
    @route(csrf=False)
    async def inbox(request: Request) -> response.HTTPResponse:
        return ok(await _off_loop(lambda: app.groups().get(app.drafts().live())))

    @bp.route("/api/inbox/not-ours", methods=["POST"])
    @route(WRITERS)
    async def not_our_questions(request: Request) -> response.HTTPResponse:
        """The group's questions become out-of-scope examples; the FAQ is rebuilt to decline them."""
        ids = _question_ids(_body(request).get("question_ids"))
        action, added = not_ours(app.inbox(), app.out_of_scope, ids, request.ctx.agent)
        version = app.service().rebuild(request.ctx.agent, f"not ours: {len(ids)} question(s) from the inbox "
                                                           f"as out-of-scope examples ({len(added)} new)")
        app.published(version.id)
        return response.json({"inbox_action": action, "added": added, "version": version.to_json()},
                             status=202, headers=SECURITY_HEADERS)

    @bp.route("/api/export", methods=["GET"])
    @route(csrf=False)
    async def export(request: Request) -> response.HTTPResponse:
        text = export_csv(app.service().read().corpus.entries)
        return response.text(text, content_type="text/csv; charset=utf-8", headers={
            **SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="faq.csv"'})

    @bp.route("/api/import", methods=["POST"])
    @route()
    async def import_csv(request: Request) -> response.HTTPResponse:
        """``{"csv": text, "delete_missing": bool}`` previews; with ``"apply": true`` (editors and
        admins) it publishes, unless the preview has errors."""
        body = _body(request)
        text, apply = body.get("csv"), body.get("apply") is True
        if not isinstance(text, str) or not text.strip():
            raise ChangeError("csv: the file's text (columns question and answer; id, alternates, tags "
                              "and file optional)")
        service = app.service()
        plan = await _off_loop(lambda: plan_import(text, service.read().corpus.entries,
                                                   default_file=DEFAULT_FILE,
                                                   delete_missing=body.get("delete_missing") is True))
        if not apply:
            return ok({"plan": plan.to_json()})
        if request.ctx.staff.role not in WRITERS:
            return error(f"importing needs the role editor or admin; {request.ctx.agent} is "
                         f"{request.ctx.staff.role}", 403)
        if not plan.ok or not plan.changes:
            return response.json({"error": "nothing was imported: " + (
                "fix the errors listed" if not plan.ok else "the file changes nothing"),
                "plan": plan.to_json()}, status=422, headers=SECURITY_HEADERS)
        message = body.get("message") if isinstance(body.get("message"), str) else ""
        version = service.publish(plan.changes, request.ctx.agent,
                                  (message or "").strip()[:MAX_MESSAGE_CHARS] or
                                  f"CSV import: {len(plan.added)} added, {len(plan.updated)} updated, "
                                  f"{len(plan.deleted)} deleted", IMPORT)
        app.published(version.id)
        return response.json({"version": version.to_json(), "plan": plan.to_json()}, status=202,
                             headers=SECURITY_HEADERS)

    @bp.route("/api/versions", methods=["GET"])
    @route(csrf=False)
    async def versions(request: Request) -> response.HTTPResponse:
        before = request.args.get("before")
        if before is not None and not before.isdigit():
            raise ChangeError("before: a version number")
        rows = app.service().versions.history(50, int(before) if before else None)
        return ok({"versions": [v.to_json() for v in rows]})

    @bp.route("/api/versions/<vid:int>", methods=["GET"])
    @route(csrf=False)
    async def version(request: Request, vid: int) -> response.HTTPResponse:
        store = app.service().versions
        return ok({"version": store.get(vid).to_json(),
                   "changes": [d.to_json() for d in store.changes_of(vid)]})

    @bp.route("/api/versions/<vid:int>/rollback", methods=["POST"])
    @route(WRITERS)
    async def rollback(request: Request, vid: int) -> response.HTTPResponse:
        version = app.service().rollback(vid, request.ctx.agent)
        app.published(version.id)
        return response.json({"version": version.to_json()}, status=202, headers=SECURITY_HEADERS)

    return bp

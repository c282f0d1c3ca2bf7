"""Canned replies' JSON API, added to a staff page's blueprint: everyone in ``readers`` lists them
(the console's agents), ``writers`` create, edit and delete them (editors and admins; anyone else
gets 403). Mounted on the console (``/console/api/canned``) and on the editor (``/editor/api/canned``)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from sanic import Blueprint, response
from sanic.request import Request

from bot.canned.store import CannedError, CannedNotFound, CannedStore
from bot.staff.accounts import ADMIN, AGENT, EDITOR, StaffStore
from bot.staff.auth import add_error_handlers, error, ok, staff_route


def add_canned_routes(bp: Blueprint, staff: Callable[[], StaffStore], store: Callable[[], CannedStore],
                      readers: Iterable[str], writers: Iterable[str]) -> None:
    read, write = staff_route(staff, readers, csrf=False), staff_route(staff, writers)

    def guarded(change: Callable[..., Any]) -> Callable[..., Any]:
        async def handler(request: Request, **kwargs: Any) -> response.HTTPResponse:
            try:
                return change(request, **kwargs)
            except CannedError as exc:  # NameTaken: 409
                return error(str(exc), exc.status)
            except CannedNotFound as exc:
                return error(str(exc), 404)
        handler.__name__ = change.__name__
        return write(handler)

    @bp.route("/api/canned", methods=["GET"])
    @read
    async def canned_list(request: Request) -> response.HTTPResponse:
        return ok({"canned": [c.to_json() for c in store().all()],
                   "can_edit": request.ctx.staff.role in tuple(writers)})

    def canned_create(request: Request) -> response.HTTPResponse:
        return ok({"canned": store().create(request.json, request.ctx.agent).to_json()})

    def canned_update(request: Request, cid: int) -> response.HTTPResponse:
        return ok({"canned": store().update(cid, request.json, request.ctx.agent).to_json()})

    def canned_delete(request: Request, cid: int) -> response.HTTPResponse:
        store().delete(cid)
        return ok({"deleted": cid})

    bp.add_route(guarded(canned_create), "/api/canned", methods=["POST"], name="canned_create")
    bp.add_route(guarded(canned_update), "/api/canned/<cid:int>", methods=["PUT"], name="canned_update")
    bp.add_route(guarded(canned_delete), "/api/canned/<cid:int>", methods=["DELETE"], name="canned_delete")


def editor_blueprint(staff: Callable[[], StaffStore], store: Callable[[], CannedStore]) -> Blueprint:
    """``/editor/api/canned``: on the editor page, where editors and admins log in (agents read)."""
    bp = Blueprint("canned_replies", url_prefix="/editor")
    add_error_handlers(bp)
    add_canned_routes(bp, staff, store, readers=(AGENT, EDITOR, ADMIN), writers=(EDITOR, ADMIN))
    return bp

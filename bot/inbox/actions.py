"""What the editor page calls when an editor acts on an inbox group: ``alternates`` and
``new_entry`` are ``InboxStore.act`` after the entry is saved; ``not ours`` also keeps the
group's questions as out-of-scope examples (``bot.kb.out_of_scope``) for the next build."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from bot.inbox.store import NOT_OURS, InboxStore
from bot.kb import out_of_scope


def not_ours(store: InboxStore, examples_file: Path, question_ids: Iterable[int],
             by: str) -> tuple[int, list[str]]:
    """Record "not ours" on the questions, then append their texts to ``examples_file``
    (``settings.out_of_scope_path``); returns the action's id and the texts the file did not
    have yet. All or nothing: if the file cannot be written, the action is undone and the error
    raised (``InboxActionError`` for bad ids, ``OutOfScopeError`` for a malformed file)."""
    action_id = store.act(question_ids, NOT_OURS, by)
    try:
        added = out_of_scope.add(examples_file, [q.question for q in store.covered(action_id)])
    except BaseException:
        store.undo(action_id)
        raise
    return action_id, added

"""The server's secret key and the keys derived from it, one per purpose.

The key is ``SUPPORTBOT_SECRET_KEY`` (at least 32 characters). Without it, a random key is created
on first use in ``SUPPORTBOT_SECRET_KEY_FILE`` (``.rasa/secret.key``, readable by its owner only) and
every process of this checkout reads the same file. Several nodes must share one key: set the
variable on each. Changing the key ends every customer's conversation token and the action
server's token at once (customers start new conversations).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from bot.settings import MIN_SECRET_KEY_CHARS as MIN_KEY_CHARS
from bot.settings import Settings


class SecretKeyError(RuntimeError):
    """The key file cannot be read or created; the message says which file and why."""


def secret_key(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.path(Path(settings.secret_key_file))
    try:
        return _read_or_create(path)
    except OSError as exc:
        raise SecretKeyError(f"cannot read or create the secret key file {path}: {exc.strerror}; "
                        "set SUPPORTBOT_SECRET_KEY instead") from exc


def _read_or_create(path: Path) -> bytes:
    """The key in ``path``, created when missing (``_create``: no process ever reads half a key)."""
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        key = _create(path)
    if len(key) < MIN_KEY_CHARS:
        raise SecretKeyError(f"{path} holds fewer than {MIN_KEY_CHARS} characters; delete it to get a new key")
    return key


def _create(path: Path) -> bytes:
    """Written to a private temporary file and linked into place: of two processes starting at
    once, one key wins and both use it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48).encode()
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        os.link(temporary, path)  # fails if another process linked its key first: theirs is read
        return key
    except FileExistsError:
        return path.read_bytes().strip()
    finally:
        os.unlink(temporary)


@functools.lru_cache(maxsize=32)  # read once per process: every customer request checks a token
def derived_key(settings: Settings, purpose: str) -> bytes:
    """A key for one purpose only (conversation tokens, the action server, ...)."""
    return hmac.new(secret_key(settings), b"supportbot:" + purpose.encode(), hashlib.sha256).digest()


def action_server_token(settings: Settings) -> str:
    """What Rasa sends the action server as ``Authorization: Bearer <token>``."""
    return derived_key(settings, "action-server").hex()

"""A conversation id is not a key: the server issues ids with a token bound to them.

The token is an HMAC of the id under a key derived from the secret key (``bot.keys``), so any
node with the same key checks it without storing anything. A client keeps both; every request
about an existing conversation (REST message or poll, socket.io session) carries the token.

Sites that log their customers in can instead pass a JWT signed with ``SUPPORTBOT_JWT_KEY``
(``SUPPORTBOT_JWT_METHOD``, HS256 by default; ``exp`` and ``sub`` required): its ``sub`` names the
customer, whose conversation id is derived from it, so the conversation follows them to another
device. Such a conversation gets no token: only a valid JWT opens it, so it ends with the JWT (a
customer who logs out cannot be followed by whoever uses the browser next).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from bot.errors import FieldError
from bot.keys import derived_key
from bot.settings import Settings

USER_PREFIX = "u-"  # conversations of customers a site's JWT names: no token opens them


@dataclass(frozen=True)
class Issued:
    sender: str
    token: str | None  # None for a JWT customer's conversation: only a JWT opens it


class AccessDenied(FieldError):
    """The request may not touch that conversation; ``field`` names what to fix."""

    status = 403


def _sign(settings: Settings, what: str) -> str:
    digest = hmac.new(derived_key(settings, "conversation"), what.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_for(settings: Settings, sender: str) -> str:
    return _sign(settings, "token:" + sender)


def new_conversation(settings: Settings) -> Issued:
    sender = uuid.uuid4().hex
    return Issued(sender, token_for(settings, sender))


def check(settings: Settings, sender: str, token: object) -> None:
    """Raise :class:`AccessDenied` unless ``token`` is the one issued with ``sender``."""
    if not isinstance(token, str) or not token:
        raise AccessDenied("token", "this needs the conversation's token: start a conversation with "
                                    "POST /webhooks/rest/conversations and send its token as "
                                    "Authorization: Bearer <token>", 401)
    if sender.startswith(USER_PREFIX):
        raise AccessDenied("token", "a logged-in customer's conversation opens only with the site's JWT")
    if not hmac.compare_digest(token.encode("utf-8", "surrogateescape"), token_for(settings, sender).encode()):
        raise AccessDenied("token", "this token is not the one issued with this conversation id")


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    scheme, _, value = (header or "").partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def user_conversation(settings: Settings, web_token: str, key: str = "", method: str = "") -> Issued:
    """The conversation of the customer a site's JWT names (its ``sub``); AccessDenied if invalid."""
    key, method = key or settings.jwt_key, method or settings.jwt_method
    if not key:
        raise AccessDenied("token", "this server takes no JWT: set SUPPORTBOT_JWT_KEY to accept them", 401)
    required = ["exp", "sub"] + ["aud"] * bool(settings.jwt_audience) + ["iss"] * bool(settings.jwt_issuer)
    try:
        claims: dict[str, Any] = jwt.decode(web_token, key, algorithms=[method], options={"require": required},
                                            audience=settings.jwt_audience or None,
                                            issuer=settings.jwt_issuer or None)
    except jwt.InvalidAudienceError:
        expected = (f"SUPPORTBOT_JWT_AUDIENCE is {settings.jwt_audience!r}" if settings.jwt_audience
                    else "set SUPPORTBOT_JWT_AUDIENCE to accept JWTs that name an audience")
        raise AccessDenied("token", f"the JWT was refused: its aud claim is not this bot's ({expected})",
                           401) from None
    except jwt.PyJWTError as exc:
        raise AccessDenied("token", f"the JWT was refused: {exc}", 401) from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AccessDenied("token", "the JWT's sub claim must name the customer", 401)
    return Issued(USER_PREFIX + _sign(settings, "user:" + subject)[:32], None)

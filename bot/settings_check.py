"""What makes a settings value unusable: each check names the variable and says what to write."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from bot.hours import HoursError, parse_hours
from bot.kb.evidence import SIGNALS, weight_problem
from bot.mail.check import smtp_problem

MIN_SECRET_KEY_CHARS = 32
PERSONAL_DATA = ("email", "phone", "card", "iban")  # the kinds bot.handoff.redact finds and masks
JWT_METHODS = ("HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used."""


def check(s: Any) -> None:
    """Raise SettingsError for the first unusable value of `s`, a bot.settings.Settings (typed Any: that
    module imports this one)."""
    if s.reload_interval <= 0:
        raise SettingsError("SUPPORTBOT_RELOAD_INTERVAL must be a positive number of seconds")
    if s.wait_warning_seconds <= 0:
        raise SettingsError("SUPPORTBOT_WAIT_WARNING_SECONDS must be a positive number of seconds")
    if s.encoder_threads < 1:
        raise SettingsError("SUPPORTBOT_ENCODER_THREADS must be at least 1")
    if s.encoder_backend not in ("torch", "onnx", "onnx-int8"):
        raise SettingsError("SUPPORTBOT_ENCODER_BACKEND must be torch, onnx or onnx-int8, "
                            f"got {s.encoder_backend!r}")
    if s.search_k < 3:
        raise SettingsError("SUPPORTBOT_SEARCH_K must be at least 3")
    if s.max_query_chars < 10:
        raise SettingsError("SUPPORTBOT_MAX_QUERY_CHARS must be at least 10")
    if s.max_message_chars < 100:
        raise SettingsError("SUPPORTBOT_MAX_MESSAGE_CHARS must be at least 100")
    if s.messages_per_minute < 1:
        raise SettingsError("SUPPORTBOT_MESSAGES_PER_MINUTE must be at least 1")
    for signal in SIGNALS:
        problem = weight_problem(signal, getattr(s, signal.key))
        if problem:
            raise SettingsError(f"{signal.setting} {problem}")
    if not 0 < s.target_precision < 1:
        raise SettingsError("SUPPORTBOT_TARGET_PRECISION must be between 0 and 1 (exclusive), "
                            f"got {s.target_precision}")
    if s.traffic_min_labels < 1:
        raise SettingsError("SUPPORTBOT_TRAFFIC_MIN_LABELS must be at least 1")
    if s.recalibrate_after_labels < 0:
        raise SettingsError("SUPPORTBOT_RECALIBRATE_AFTER_LABELS must be 0 (off) or more")
    if s.tracker_url and not s.tracker_url.startswith(("postgresql://", "sqlite://")):
        raise SettingsError(
            "SUPPORTBOT_TRACKER_URL must start with postgresql:// (or sqlite://), "
            f"got {s.tracker_url.split(':')[0]!r}"
        )

    if s.handoff_url and not s.handoff_url.startswith(("postgresql://", "sqlite://")):
        raise SettingsError("SUPPORTBOT_HANDOFF_URL must start with postgresql:// (or sqlite://)")
    if s.redis_url and not s.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError("SUPPORTBOT_REDIS_URL must start with redis://, rediss:// or unix://, "
                            "e.g. redis://127.0.0.1:6379/0 (or be empty for one node)")
    if s.action_host and not _HOST.fullmatch(s.action_host):
        raise SettingsError(f"SUPPORTBOT_ACTION_HOST must be a host name or IP address such as actions or "
                            f"10.0.0.5, with no scheme or port (that is SUPPORTBOT_ACTION_PORT), "
                            f"got {s.action_host!r}")
    if s.handoff_miss_limit < 1:
        raise SettingsError("SUPPORTBOT_HANDOFF_MISS_LIMIT must be at least 1")
    if s.handoff_webhooks and not s.handoff_webhook_secret:
        raise SettingsError("SUPPORTBOT_HANDOFF_WEBHOOKS is set, so SUPPORTBOT_HANDOFF_WEBHOOK_SECRET "
                            "must be set too (receivers check the signature with it)")
    if s.secret_key and len(s.secret_key) < MIN_SECRET_KEY_CHARS:
        raise SettingsError(f"SUPPORTBOT_SECRET_KEY must have at least {MIN_SECRET_KEY_CHARS} characters, "
                            "e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))'")
    for origin in s.origin_list:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise SettingsError(f"SUPPORTBOT_ALLOWED_ORIGINS: {origin!r} is not an origin; write "
                                "scheme://host[:port] with no path, e.g. https://shop.example.com")
    if s.jwt_method not in JWT_METHODS:
        raise SettingsError(f"SUPPORTBOT_JWT_METHOD must be one of {', '.join(JWT_METHODS)}")
    for proxy in s.proxy_list:
        try:
            ipaddress.ip_address(proxy)
        except ValueError:
            raise SettingsError(f"SUPPORTBOT_TRUSTED_PROXIES: {proxy!r} is not an IP address") from None
    unknown = sorted(set(s.mask_kinds) - set(PERSONAL_DATA))
    if unknown:
        raise SettingsError(f"SUPPORTBOT_MASK_AT_REST: unknown kind(s) {', '.join(map(repr, unknown))}; "
                            f"use a comma list of {', '.join(PERSONAL_DATA)} (or leave it empty)")
    import phonenumbers

    if s.phone_region and s.phone_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise SettingsError("SUPPORTBOT_PHONE_REGION must be a two-letter region such as US, GB or DE "
                            f"(or empty), got {s.phone_region!r}")
    problem = smtp_problem(s)
    if problem:
        raise SettingsError(problem)
    try:
        parse_hours(s.handoff_hours, s.handoff_timezone)
    except HoursError as exc:
        raise SettingsError(f"SUPPORTBOT_HANDOFF_HOURS / SUPPORTBOT_HANDOFF_TIMEZONE: {exc}") from exc

"""E-mail replies to tickets without a server: settings, addresses and headers, the message, states."""

from datetime import datetime, timezone

import pytest

from bot.mail.address import address_problem, header_text, sender
from bot.mail.compose import Line, compose, subject_for
from bot.mail.outbox import state_of
from bot.settings import Settings, SettingsError

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def test_smtp_settings_are_checked_and_say_what_to_fix():
    assert Settings().smtp_port_number == 587  # starttls by default
    assert Settings(smtp_tls="tls").smtp_port_number == 465 and Settings(smtp_tls="none").smtp_port_number == 25
    assert Settings(smtp_port=2525).smtp_port_number == 2525
    for bad, message in [(dict(smtp_tls="ssl"), "SUPPORTBOT_SMTP_TLS must be one of none, starttls, tls"),
                         (dict(smtp_host="mail.shop.test"), "SUPPORTBOT_SMTP_FROM must be set"),
                         (dict(smtp_host="mail.shop.test", smtp_from="support at shop"), "not a from-address"),
                         (dict(smtp_host="m", smtp_from="a@shop.test\r\nBcc: x@evil.test"), "line breaks"),
                         (dict(smtp_user="bot"), "go together"),
                         (dict(smtp_port=70000), "SUPPORTBOT_SMTP_PORT"),
                         (dict(smtp_host="mail.shop.test", smtp_from="a@shop.test", smtp_tls="none",
                               smtp_user="bot", smtp_password="pw"), "unencrypted")]:
        with pytest.raises(SettingsError, match=message):
            Settings(**bad)
    # loopback relays without TLS are fine (a local MTA)
    Settings(smtp_host="127.0.0.1", smtp_from="a@shop.test", smtp_tls="none", smtp_user="u", smtp_password="p")
    assert "pw" not in repr(Settings(smtp_user="bot", smtp_password="pw"))
    env = Settings.from_env({"SUPPORTBOT_SMTP_HOST": "mail.shop.test", "SUPPORTBOT_SMTP_FROM": "a@shop.test",
                             "SUPPORTBOT_SMTP_PORT": "2525", "SUPPORTBOT_SMTP_PASSWORD": "from-env",
                             "SUPPORTBOT_SMTP_USER": "bot"})
    assert (env.smtp_host, env.smtp_port, env.smtp_password) == ("mail.shop.test", 2525, "from-env")


def test_addresses_and_header_text_never_carry_line_breaks():
    assert address_problem("jo@example.com") is None
    assert "line breaks" in address_problem("jo@example.com\r\nBcc: x@evil.test")
    assert "not an email address" in address_problem("<script>@x")
    assert header_text("a\r\nBcc: b\tc") == "a Bcc: b c"
    assert len(header_text("x" * 500, 100)) == 100
    assert str(sender("Shop support <support@shop.test>")) == "Shop support <support@shop.test>"
    with pytest.raises(ValueError, match="line breaks"):
        sender("support@shop.test\nBcc: x@evil.test")


def test_the_message_has_the_reply_first_then_the_conversation_quoted():
    lines = [Line("You", NOW, "where is my parcel?\nIt is late."), Line("Support assistant", NOW, "Sorry!")]
    msg = compose("jo@example.com", "support@shop.test", subject_for("where is\nmy parcel?"), "On its way.",
                  "ana", lines, NOW)
    assert (msg["To"], msg["From"], msg["Subject"]) == ("jo@example.com", "support@shop.test",
                                                        "Re: where is my parcel?")
    assert msg["Message-ID"].endswith("@shop.test>")
    body = msg.get_content()
    assert body.index("On its way.") < body.index("Our conversation so far")
    assert "You (2026-11-22 12:00 UTC):\n> where is my parcel?\n> It is late." in body
    assert subject_for(None) == "Re: your question to our support team"
    with pytest.raises(ValueError, match="not an email address"):
        compose("jo@", "support@shop.test", "s", "r", "ana", [], NOW)


def test_a_replys_state_follows_its_attempts():
    row = {"delivered_at": None, "next_attempt_at": NOW, "attempts": 0}
    assert state_of(row) == "queued"
    assert state_of({**row, "attempts": 2}) == "retrying"
    assert state_of({**row, "attempts": 2, "next_attempt_at": None}) == "failed"
    assert state_of({**row, "attempts": 1, "delivered_at": NOW}) == "sent"

import pytest

from bot.handoff.redact import iban_ok, luhn_ok, redact


@pytest.mark.parametrize("text,expected", [
    ("Mail me at jane.doe+orders@example.co.uk please", "Mail me at [email] please"),
    ("call me on +44 20 7946 0958 or (030) 1234567", "call me on [phone] or [phone]"),
    ("my card 4111 1111 1111 1111 was charged twice", "my card [card] was charged twice"),
    ("card 4111-1111-1111-1111", "card [card]"),
    ("refund to DE89 3704 0044 0532 0130 00 thanks", "refund to [iban] thanks"),
    ("GB82WEST12345698765432", "[iban]"),
    # not personal data: wrong checksums, order numbers, dates, times, amounts
    ("order 4111 1111 1111 1112 is late", "order 4111 1111 1111 1112 is late"),
    ("order BC-10293 placed on 2024-05-12 at 10:30 for $120.50",
     "order BC-10293 placed on 2024-05-12 at 10:30 for $120.50"),
    ("DE89 3704 0044 0532 0130 01", "DE89 3704 0044 0532 0130 01"),
])
def test_redact_masks_personal_data_and_leaves_the_rest(text, expected):
    assert redact(text) == expected


def test_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert luhn_ok("5500 0000 0000 0004")
    assert iban_ok("DE89370400440532013000") and not iban_ok("DE89370400440532013001")


def test_log_lines_are_redacted_by_the_installed_filter():
    import io
    import logging

    from bot.handoff.redact import install_log_redaction

    stream = io.StringIO()
    logger = logging.getLogger("test.redaction")
    logger.propagate = False
    logger.addHandler(logging.StreamHandler(stream))
    install_log_redaction(logger)
    install_log_redaction(logger)  # idempotent
    logger.warning("customer %s paid with %s", "jo@example.com", "4111 1111 1111 1111")
    logger.warning("order %d shipped", 12)
    assert stream.getvalue().splitlines() == ["customer [email] paid with [card]", "order 12 shipped"]

import pytest

from bot.handoff.redact import find_personal_data, iban_ok, luhn_ok, redact

SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("text,expected", [
    ("Mail me at jane.doe+orders@example.co.uk please", "Mail me at [email] please"),
    ("call me on +44 20 7946 0958 or (415) 555-2671", "call me on [phone] or [phone]"),
    ("my mobile is 415-555-2671, or 011 44 20 7946 0958", "my mobile is [phone], or [phone]"),
    ("my card 4111 1111 1111 1111 was charged twice", "my card [card] was charged twice"),
    ("card 4111-1111-1111-1111", "card [card]"),
    ("refund to DE89 3704 0044 0532 0130 00 thanks", "refund to [iban] thanks"),
    ("GB82WEST12345698765432", "[iban]"),
    # in lower case, with or without spaces, followed by more digits
    ("my iban is de89 3704 0044 0532 0130 00", "my iban is [iban]"),
    ("iban gb82west12345698765432.", "iban [iban]."),
    ("DE89 3704 0044 0532 0130 00 1234", "[iban] 1234"),
])
def test_redact_masks_personal_data_and_leaves_the_rest(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", [  # wrong checksums, order numbers, dates, amounts, ids, hashes
    "order 12345678 is late",
    "order #4155552671 is late",
    "order 4111 1111 1111 1112 is late",
    "order BC-10293 placed on 2024-05-12 at 10:30 for $120.50",
    "delivered 12/05/2024 or 12.05.2024, invoice 2024051212",
    "DE89 3704 0044 0532 0130 01",
    "conversation probe-12345678 paused",
    "conversation probe-4155552671 and test-4111111111111111",
    "sender 5f2b1c9e7d6a43b8a1c0e9f8d7c6b5a4 id 550e8400-e29b-41d4-a716-446655440000",
    f"checksum {SHA256}",
    "tracking 1Z999AA10123456784",
])
def test_what_is_not_personal_data_stays_readable(text):
    assert redact(text) == text


def test_national_numbers_are_read_in_the_configured_region():
    text = "ruf mich an: (030) 1234567"
    assert redact(text, region="DE") == "ruf mich an: [phone]"
    assert redact(text, region="US") == text  # not a US number
    assert redact("call +49 30 1234567", region="") == "call [phone]"  # international: any region
    assert redact("call (415) 555-2671", region="") == "call (415) 555-2671"


def test_only_the_kinds_asked_for_are_masked():
    text = "jo@example.com, +44 20 7946 0958, 4111 1111 1111 1111, DE89370400440532013000"
    assert redact(text, kinds={"card", "iban"}) == "jo@example.com, +44 20 7946 0958, [card], [iban]"
    assert redact(text, kinds=()) == text
    assert [k for _, _, k in find_personal_data(text)] == ["email", "phone", "card", "iban"]


def test_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert luhn_ok("5500 0000 0000 0004") and not luhn_ok("0000 0000")
    assert iban_ok("DE89370400440532013000") and not iban_ok("DE89370400440532013001")
    assert iban_ok("de89 3704 0044 0532 0130 00")


def test_log_lines_are_redacted_by_the_installed_filter():
    import io
    import logging

    from bot.handoff.redact import install_log_redaction

    stream = io.StringIO()
    logger = logging.getLogger("test.redaction")
    logger.propagate = False
    logger.addHandler(logging.StreamHandler(stream))
    install_log_redaction(logger, region="US")
    install_log_redaction(logger, region="US")  # idempotent
    logger.warning("customer %s paid with %s", "jo@example.com", "4111 1111 1111 1111")
    logger.warning("order %d shipped", 12)
    logger.warning("hand-off %s opened for conversation %s", "9f86d081884c7d65", "probe-12345678")
    assert stream.getvalue().splitlines() == [
        "customer [email] paid with [card]", "order 12 shipped",
        "hand-off 9f86d081884c7d65 opened for conversation probe-12345678"]

"""What a customer gives a hand-off is checked before it is kept: an email address, a rating."""

import pytest

from bot.handoff.customer_input import email_in, is_email, rating


@pytest.mark.parametrize("value", [
    "jo@example.com", "jo.doe+shop@mail.example.co.uk", "o'brien@example.ie", "a_b-c@x-y.example",
    "x@xn--bcher-kva.example", "UPPER@EXAMPLE.COM", "a" * 64 + "@example.com"])
def test_addresses(value):
    assert is_email(value)


@pytest.mark.parametrize("value", [
    "<img src=x onerror=alert(3)>", "", "jo", "jo@", "@example.com", "jo@example", "jo..doe@example.com",
    ".jo@example.com", "jo.@example.com", "jo@-example.com", "jo@example-.com", "jo@exa..mple.com",
    "jo@example.c", "jo@example.123", "jo@@example.com", "jo doe@example.com", "jo@exam ple.com",
    "<jo@example.com>", "jo@example.com\n", "a" * 65 + "@example.com", "jo@" + "a" * 64 + ".com",
    "jo@" + ("a" * 60 + ".") * 5 + "com", None, 42, ["jo@example.com"]])
def test_not_addresses(value):
    assert not is_email(value)


def test_an_address_is_found_in_a_sentence_only_when_it_is_one():
    assert email_in("my email is jo.doe@example.com, thanks") == "jo.doe@example.com"
    assert email_in("jo..doe@example.com or else jo@example.org") == "jo@example.org"
    assert email_in("my email is jo..doe@example.com") is None
    assert email_in('/give_email{"email":"<img src=x onerror=alert(3)>"}') is None
    assert email_in(None) is None


@pytest.mark.parametrize("value,expected", [
    ("1", 1), ("5", 5), (" 4 ", 4), (3, 3), ("0", None), ("6", None), (6, None), ("4.5", None),
    (4.0, None), (True, None), ("", None), (None, None), ("٣", None), ("five", None), ("-1", None)])
def test_a_rating_is_a_whole_number_from_1_to_5(value, expected):
    assert rating(value) == expected

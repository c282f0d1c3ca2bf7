"""Conversation tokens, site JWTs and message limits, without servers."""

import time

import jwt
import pytest

from bot.access.conversations import AccessDenied, bearer, check, new_conversation, token_for, user_conversation
from bot.access.limits import MessageLimits
from bot.settings import Settings


@pytest.fixture
def settings(tmp_path):
    return Settings(root=tmp_path, secret_key="s" * 40, jwt_key="site key")


def test_an_issued_conversation_opens_with_its_token_only(settings, tmp_path):
    mine, theirs = new_conversation(settings), new_conversation(settings)
    check(settings, mine.sender, mine.token)
    for sender, token, status in ((mine.sender, theirs.token, 403), (mine.sender, "", 401),
                                  (mine.sender, None, 401), (theirs.sender, mine.token, 403)):
        with pytest.raises(AccessDenied) as refused:
            check(settings, sender, token)
        assert refused.value.status == status and refused.value.field == "token"
    other_key = Settings(root=tmp_path, secret_key="t" * 40)
    assert token_for(other_key, mine.sender) != mine.token  # a node with another key refuses it
    assert bearer("Bearer abc ") == "abc" and bearer("bearer abc") == "abc"
    assert bearer("abc") is None and bearer("Basic abc") is None and bearer(None) is None
    with pytest.raises(AccessDenied):  # a header Sanic decoded with surrogates: refused, not a crash
        check(settings, mine.sender, "t\udcff\u00e9")


def signed(claims, key="site key", algorithm="HS256"):
    return jwt.encode({"exp": int(time.time()) + 600, **claims}, key, algorithm=algorithm)


def test_a_site_jwt_names_the_customer_and_their_conversation(settings):
    alice = user_conversation(settings, signed({"sub": "alice"}))
    again = user_conversation(settings, signed({"sub": "alice", "x": 1}))
    bob = user_conversation(settings, signed({"sub": "bob"}))
    assert alice == again and alice.sender != bob.sender and "alice" not in alice.sender
    # no token opens a logged-in customer's conversation, not even one signed for its id: only a JWT
    assert alice.token is None
    for token in (None, token_for(settings, alice.sender)):
        with pytest.raises(AccessDenied, match="JWT|token"):
            check(settings, alice.sender, token)
    for bad, says in ((signed({"sub": "alice"}, "wrong"), "Signature"),
                      (signed({"sub": ""}), "sub"),
                      (signed({"sub": "a", "exp": 1}), "expired"),
                      (jwt.encode({"sub": "a"}, "site key", algorithm="HS256"), "exp"),
                      (signed({"sub": "a"}, algorithm="HS512"), "alg value"),
                      ("not a jwt", "refused")):
        with pytest.raises(AccessDenied, match=says):
            user_conversation(settings, bad)
    with pytest.raises(AccessDenied, match="SUPPORTBOT_JWT_KEY"):
        user_conversation(Settings(root=settings.root, secret_key="s" * 40), "x")


def test_a_site_jwt_must_be_for_this_bot_when_an_audience_or_issuer_is_set(settings):
    # unset: a JWT that names an audience was issued for some other service, and says how to accept it
    with pytest.raises(AccessDenied, match="SUPPORTBOT_JWT_AUDIENCE"):
        user_conversation(settings, signed({"sub": "alice", "aud": "billing"}))
    strict = Settings(root=settings.root, secret_key="s" * 40, jwt_key="site key",
                      jwt_audience="support", jwt_issuer="https://shop.example")
    ok = {"sub": "alice", "aud": "support", "iss": "https://shop.example"}
    assert user_conversation(strict, signed(ok)) == user_conversation(settings, signed({"sub": "alice"}))
    assert user_conversation(strict, signed({**ok, "aud": ["billing", "support"]})).sender
    for bad, says in (({**ok, "aud": "billing"}, "aud claim is not this bot's"),
                      ({"sub": "alice", "iss": "https://shop.example"}, "aud"),
                      ({**ok, "iss": "https://evil.example"}, "issuer"),
                      ({"sub": "alice", "aud": "support"}, "iss")):
        with pytest.raises(AccessDenied, match=says):
            user_conversation(strict, signed(bad))


def test_message_limits_refuse_long_and_rapid_messages_per_conversation():
    now = [1000.0]
    limits = MessageLimits(max_chars=100, per_minute=3, clock=lambda: now[0])
    long = limits.refusal("a", "x" * 101)
    assert long is not None and long.status == 413 and "100" in long.message
    assert [limits.refusal("a", "hi") for _ in range(3)] == [None] * 3  # the refused long one did not count
    too_many = limits.refusal("a", "hi")
    assert too_many is not None and too_many.status == 429 and too_many.retry_after == 60
    assert limits.refusal("b", "hi") is None  # another conversation
    assert limits.refusal("c", "hi", {"pad": "x" * 200}).field == "metadata"
    assert limits.refusal("c", "hi", {"page": "/checkout"}) is None
    now[0] += 30
    assert limits.refusal("a", "hi").retry_after == 30
    now[0] += 30.5
    assert limits.refusal("a", "hi") is None  # the first ones left the window

"""The hand-off store's tests again, against a real PostgreSQL server started here."""

import os

import pytest

from bot.handoff.store import HandoffStore
from tests.pg import Postgres, PostgresUnavailable, fresh_database
from tests.unit.test_handoff_store import (  # noqa: F401 (collected here with the PostgreSQL store)  # noqa: F401 (their fixtures)
    feed,
    outbox,
    staff,
    test_a_handoff_is_rated_once_and_keeps_only_a_real_email_address,
    test_customer_feed_is_delivered_once_in_order_and_per_conversation,
    test_customer_feed_taken_concurrently_is_delivered_exactly_once,
    test_exactly_one_of_many_concurrent_claimers_wins,
    test_lifecycle_is_timestamped_and_final_states_are_final,
    test_messages_ratings_and_sessions,
    test_open_stores_the_packet_and_is_idempotent_per_conversation,
    test_other_final_states,
    test_queue_is_ordered_by_waiting_time_and_reports_positions,
    test_unknown_ids_raise_clear_errors,
    test_webhook_outbox_is_idempotent_per_key_and_receiver,
)
from tests.unit.test_inbox import (  # noqa: F401
    test_actions_are_checked_and_recorded_all_or_nothing,
    test_an_action_takes_its_questions_out_of_the_open_inbox_and_keeps_them_as_handled,
    test_misses_and_refused_options_are_collected_masked_answers_are_not,
    test_not_ours_keeps_the_questions_as_out_of_scope_examples_or_nothing,
    test_purge_and_forget_include_the_inbox,
    test_purge_and_forget_take_the_record_of_actions_with_their_questions,
    test_turns_that_are_not_content_gaps_are_left_out,
)
from tests.unit.test_retention import (  # noqa: F401
    test_delivered_webhooks_are_purged_after_the_period,
    test_forget_a_sender_erases_them_from_every_store_and_nobody_else,
    test_forget_an_email_finds_every_conversation_that_carried_it,
    test_purge_deletes_what_is_older_in_every_store_and_keeps_the_rest,
)
from tests.unit.test_staff import (  # noqa: F401
    test_an_older_database_gains_roles_and_loses_nothing,
    test_roles_are_checked_and_only_agents_and_admins_count_as_online,
)


@pytest.fixture(scope="module")
def postgres_url():
    try:
        with Postgres() as url:
            yield url
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))


@pytest.fixture
def store(postgres_url):
    with fresh_database(postgres_url) as url:
        s = HandoffStore.from_url(url)
        yield s
        s.engine.dispose()


@pytest.fixture
def inbox(store):
    from bot.inbox.store import InboxStore

    return InboxStore(store.engine)


def test_it_really_is_postgresql(store):
    assert store.engine.dialect.name == "postgresql"


def test_the_served_inbox_commits_without_waiting_for_the_disk_and_hand_offs_still_wait(store):
    """bot.db.engine(durable=False), as bot.runtime.inbox uses it: synchronous_commit off on its own
    pool; what it commits is at once visible to the hand-off store's (durable) connections."""
    from bot.db import engine
    from bot.inbox.store import MISS, InboxStore

    relaxed = engine(store.engine.url.render_as_string(hide_password=False), durable=False)
    try:
        with relaxed.connect() as conn:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        InboxStore(relaxed).add("c1", "can I pay in coins?", MISS, "payment-methods", 0.3)
        assert [q.question for q in InboxStore(store.engine).questions()] == ["can I pay in coins?"]
    finally:
        relaxed.dispose()

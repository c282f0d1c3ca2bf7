"""What the fault tests wait for and read back from the cluster's PostgreSQL."""

import time

from bot.db import engine


def wait_for(check, seconds, what):
    """Polls ``check`` until it is true; fails naming ``what``. Returns when it became true."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} not within {seconds} s"
        time.sleep(0.2)
    return time.monotonic()


def user_rows(cluster, sender):
    """The customer's messages as the PostgreSQL tracker store holds them, oldest first."""
    with engine(cluster.postgres_url).connect() as conn:
        return [r[0] for r in conn.exec_driver_sql(
            "SELECT data::json->>'text' FROM events WHERE sender_id = %s AND type_name = 'user' ORDER BY id",
            (sender,)).all()]

"""A gevent worker as gunicorn's is: the SDK (and psycopg) imported and the blocking
client built in the parent, then a forked child that gevent patches and whose greenlets
record usage in their own transactions at once, the outbox's first use among them:
``python -m tests.stacks.apps.gevent_first_use OUTBOX``. The child prints how many
succeeded."""

from __future__ import annotations

import os
import sys

import psycopg

from ._client import blocking_client

outbox = sys.argv[1]
pac = blocking_client(outbox=outbox)
meter = pac.balance.meter(window="1s")


def one(i: int) -> None:
    with psycopg.connect(outbox) as connection, connection.transaction():
        connection.execute("INSERT INTO orders (customer, amount) VALUES (%s, -1)", (f"c{i % 3}",))
        meter.record(connection, f"c{i % 3}", -1, reason="orders")


def worker() -> None:
    from gevent import monkey

    monkey.patch_all()  # as gunicorn's gevent worker does, after the fork

    import gevent

    jobs = [gevent.spawn(one, i) for i in range(12)]
    gevent.joinall(jobs, timeout=30)
    print(sum(1 for job in jobs if job.successful()), flush=True)
    pac.close()


child = os.fork()
if child == 0:
    try:
        worker()
    finally:
        os._exit(0)
os.waitpid(child, 0)
pac.close()

"""Fleet deliveries in a gevent process (patched first, as ``gevent`` scripts are): two
blocking clients on one PostgreSQL outbox; one waits for a record the service verifies
only in 30 s, the other verifies a delivery for it. Prints the wait's status and its
seconds: the news reached the waiting client through the outbox's channel, the worker's
other greenlets running meanwhile. ``python -m tests.stacks.apps.gevent_waits OUTBOX``"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402

from ._client import blocking_client  # noqa: E402

outbox = sys.argv[1]
waiter = blocking_client(outbox=outbox)
receiver = blocking_client(outbox=outbox)
record = waiter.balance.emit("cust_g", -1, "usage", reference_id="g1").record_id
ticks = []


def ticking() -> None:
    while True:
        ticks.append(time.monotonic())
        gevent.sleep(0.05)


def deliver() -> None:
    gevent.sleep(1.0)
    headers, body = receiver.webhooks.sign(
        {"event": "delta.verified", "data": {"recordId": record}}
    )
    receiver.webhooks.verify_from_headers(headers, body)


gevent.spawn(ticking)
gevent.spawn(deliver)
started = time.monotonic()
status = waiter.balance.wait_for_verified(record, timeout=20)
print(status.status, round(time.monotonic() - started, 1), len(ticks) > 10, flush=True)
waiter.close()
receiver.close()

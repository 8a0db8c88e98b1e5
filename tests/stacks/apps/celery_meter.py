"""A Celery app that meters usage and emits deltas with a blocking client built at import,
as task modules do: ``celery -A tests.stacks.apps.celery_meter worker -P prefork -c 4``
imports it in the main process, which then forks the pool's processes."""

from __future__ import annotations

import os

from celery import Celery

from ._client import blocking_client

broker = os.environ["PACSPACE_TEST_BROKER"]
app = Celery("pacspace_meter", broker=broker, backend=broker)
app.conf.update(worker_prefetch_multiplier=1, task_acks_late=True, broker_connection_retry=True)

pac = blocking_client()
meter = pac.balance.meter()
meter.add("warm-up", -1)  # the main process's own usage: sent once, never by a child


@app.task(name="meter.add")
def add(customer: str, amount: str, reason: str) -> int:
    meter.add(customer, amount, reason=reason)
    return os.getpid()


@app.task(name="meter.emit")
def emit(customer: str, amount: str, reason: str, reference_id: str) -> str:
    return pac.balance.emit(customer, amount, reason, reference_id=reference_id).record_id

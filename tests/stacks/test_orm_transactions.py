"""Usage recorded in the app's own ORM transaction, in the servers users deploy, each
request inserting an order and recording its usage in the same transaction, a third of
them rolled back by the app: a SQLAlchemy ``AsyncSession`` on asyncpg under gunicorn with
uvicorn workers, a raw asyncpg transaction there too, a blocking SQLAlchemy ``Session`` on psycopg under gunicorn's gevent
workers, and Django's ``transaction.atomic()`` under gunicorn's sync workers, all
``--preload``. After a SIGTERM, the ledger equals the orders the database committed,
customer by customer and reason by reason."""

from __future__ import annotations

import functools
import signal
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from pacspace_sandbox import Sandbox, SandboxServer
from tests._ledger import ledger

from ._servers import PYTHON, Server, free_port, require, send_what_was_kept

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn is POSIX-only")

REQUESTS = 90
AMOUNTS = ("-1", "-0.5", "-0.25")


def hit(server: Server, n: int) -> bytes:
    customer, reason, amount = f"c{n % 3}", ("compute", "storage")[n % 2], AMOUNTS[n % 3]
    fail = "1" if n % 3 == 1 else "0"
    path = f"/order?customer={customer}&reason={reason}&amount={amount}&fail={fail}"
    with urllib.request.urlopen(server.url(path), timeout=30) as answer:
        assert answer.status == 200
        return answer.read()


STACKS = {
    "sqlalchemy-asyncpg": (
        "uvicorn.workers.UvicornWorker",
        "tests.stacks.apps.asgi_orders:application",
        ("sqlalchemy", "asyncpg"),
    ),
    "asyncpg": (
        "uvicorn.workers.UvicornWorker",
        "tests.stacks.apps.asgi_orders_asyncpg:application",
        ("asyncpg",),
    ),
    "sqlalchemy-psycopg-gevent": (
        "gevent",
        "tests.stacks.apps.wsgi_orders:application",
        ("sqlalchemy", "psycopg", "gevent"),
    ),
    "django": ("sync", "tests.stacks.apps.django_orders:application", ("django",)),
}


@pytest.mark.parametrize("stack", list(STACKS))
def test_orm_transactions_under_gunicorn(
    stack: str,
    pacspace_sandbox: Sandbox,
    pacspace_server: SandboxServer,
    postgres_url: str,
    tmp_path: Path,
) -> None:
    worker_class, app, needs = STACKS[stack]
    require("gunicorn", *needs)
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE TABLE orders (customer text, reason text, amount numeric)")
    port = free_port()
    server = Server(
        [PYTHON, "-m", "gunicorn", "--preload", "-w", "2", "-k", worker_class,
         "-b", f"127.0.0.1:{port}", "--graceful-timeout", "20", app],
        {
            "PACSPACE_API_KEY": pacspace_sandbox.api_key,
            "PACSPACE_API_BASE_URL": pacspace_server.url,
            "PACSPACE_TEST_OUTBOX": postgres_url,
        },
        port,
        tmp_path / "gunicorn.log",
    )  # fmt: skip
    try:
        server.wait_ready()
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(functools.partial(hit, server), range(REQUESTS)))
    finally:
        printed = server.stop(signal.SIGTERM)
    assert "Traceback" not in printed, printed
    assert answers.count(b"rolled back") == REQUESTS // 3
    time.sleep(1.5)  # the last one-second window ends, past the seal's grace
    send_what_was_kept(pacspace_sandbox, pacspace_server, postgres_url)
    with psycopg.connect(postgres_url) as db:
        committed = {
            (customer, reason): Decimal(total)
            for customer, reason, total in db.execute(
                "SELECT customer, reason, SUM(amount) FROM orders GROUP BY customer, reason"
            )
        }
    assert ledger(pacspace_sandbox, "customer_id", "reason") == committed

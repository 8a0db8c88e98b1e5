"""A one-file Django site whose usage belongs to its database work: ``/order`` inserts an
order and records its usage with ``meter.record(connection, ...)`` inside
``transaction.atomic()``; ``fail=1`` makes the view fail after recording, so the block
(usage included) rolls back. Served by ``gunicorn --preload``; the blocking client is
built at import, in the master."""

from __future__ import annotations

import os

import django
from django.conf import settings

from ._client import django_database

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="stack-test",
    USE_TZ=True,
    DATABASES={"default": django_database(os.environ["PACSPACE_TEST_OUTBOX"])},
    # A failing request's traceback goes to the server's log, where the test shows it.
    LOGGING={
        "version": 1,
        "handlers": {"stderr": {"class": "logging.StreamHandler"}},
        "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}},
    },
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

from ._client import blocking_client  # noqa: E402

pac = blocking_client()
meter = pac.balance.meter(window="1s")  # windows end within the test


class Failed(Exception):
    """The view's own work failing after it recorded."""


def order(request: HttpRequest) -> HttpResponse:
    customer, reason = request.GET["customer"], request.GET["reason"]
    amount = request.GET["amount"]
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO orders (customer, reason, amount) VALUES (%s, %s, %s)",
                    [customer, reason, amount],
                )
            meter.record(connection, customer, amount, reason=reason)
            if request.GET.get("fail") == "1":
                raise Failed
    except Failed:
        return HttpResponse(b"rolled back")
    return HttpResponse(b"ok")


def pid(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(os.getpid()).encode())


urlpatterns = [path("order", order), path("pid", pid)]
application = get_wsgi_application()

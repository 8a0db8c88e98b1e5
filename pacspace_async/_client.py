"""``PacSpace``: configuration, one transport, the resources and the waiter, wired once."""

from __future__ import annotations

import copy
import dataclasses
import os
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx
from typing_extensions import Unpack

from . import _validate as check
from ._aio import Home
from ._backends import TransportCallable
from ._config import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    ClientArguments,
    ClientConfig,
    ClientOptions,
    HttpBackend,
    seed_arguments,
)
from ._delivery_channel import DeliveryChannel
from ._errors import ValidationError
from ._secrets import redact
from ._telemetry import watch
from ._time import Timeout, client_timeout
from ._transport import Transport, segment
from ._waiter import Waiter
from .resources import Balance, Customers, submit_batch
from .summaries import SubmissionOptions, Submit, SummaryQueue, is_postgres, owner_of
from .types import CloseReport, RecordStatus, Verification
from .webhooks import WebhookEvent, Webhooks

__all__ = ["PacSpace"]

_VERIFY_SOURCES = ("db", "chain", "both")
_WAIT_EVENTS = {"delta.verified": "VERIFIED", "delta.failed": "FAILED"}


class PacSpace:
    """The async PacSpace client.

    One client holds one connection pool: create it once, share it, and close it with
    ``await pac.aclose()`` or ``async with PacSpace(...) as pac:``.

    ``api_key`` falls back to ``PACSPACE_API_KEY``; the base URL is ``base_url``, else
    ``PACSPACE_API_BASE_URL``, else chosen by the key prefix. ``timeout`` is in seconds
    always (a ``timedelta`` or an ``httpx.Timeout`` work too); ``PacSpace.init(...)``
    reads pacspace-sdk's milliseconds.
    ``http_backend`` is ``"auto"`` (``PACSPACE_HTTP_BACKEND`` if set, else aiohttp:
    several times faster under concurrency), ``"aiohttp"`` or ``"httpx"`` (for tests that
    mock with respx). ``proxy`` (else ``HTTPS_PROXY``/``HTTP_PROXY``/
    ``ALL_PROXY`` minus ``NO_PROXY``) and ``verify`` (a CA bundle path or an
    ``ssl.SSLContext``) work on both; answers larger than ``max_response_bytes`` (16 MiB,
    after decompression) are refused; redirects are never followed.
    """

    balance: Balance
    customers: Customers
    webhooks: Webhooks
    """Verifies deliveries; without a secret it is there and raises, saying how to set one."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        sandbox_url: str | None = None,
        production_url: str | None = None,
        timeout: Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        chain_id: int | None = None,
        credit_pool_id: int | None = None,
        webhook_secret: str | Sequence[str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        http_backend: HttpBackend = "auto",
        proxy: str | None = None,
        verify: bool | str | ssl.SSLContext = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        dashboard_token: str | None = None,
        max_status_requests: int = 32,
        submission: Mapping[str, Any] | None = None,
        transport: TransportCallable | None = None,
    ) -> None:
        self._config = ClientConfig.resolve(
            api_key,
            {
                "base_url": base_url,
                "sandbox_url": sandbox_url,
                "production_url": production_url,
                "timeout": timeout,
                "max_retries": max_retries,
                "chain_id": chain_id,
                "credit_pool_id": credit_pool_id,
                "proxy": proxy,
                "verify": verify,
                "max_response_bytes": max_response_bytes,
            },
        )
        if dashboard_token is not None:
            check.header_value(dashboard_token, "dashboard_token")
        if transport is not None and (http_client is not None or not callable(transport)):
            raise ValidationError(
                "transport must be a callable, and not given with http_client", field="transport"
            )
        self._transport = Transport(
            self._config, http_client, http_backend=http_backend, transport=transport
        )
        self._waiter = Waiter(self._status, max_in_flight=max_status_requests)

        def exit_submit() -> tuple[Submit, Callable[[], Awaitable[None]]]:
            # At interpreter exit this client's loop is gone: a fresh connection sends.
            fresh = Transport(self._config, http_backend=http_backend, transport=transport)
            return (lambda deltas, key: submit_batch(fresh, deltas, key)), fresh.aclose

        options = SubmissionOptions(submission)
        owner = owner_of(self._config.api_key, self._config.base_url)
        self._summaries = SummaryQueue(
            options,
            lambda deltas, key: submit_batch(self._transport, deltas, key),
            owner=owner,
            exit_submit=exit_submit,
        )
        # On a PostgreSQL outbox, verified deliveries are shared with the fleet's clients.
        self._deliveries = (
            DeliveryChannel(options.outbox, owner, self._on_fleet_news)
            if options.outbox is not None and is_postgres(options.outbox)
            else None
        )
        if self._deliveries is not None:
            self._waiter.on_wait = self._deliveries.start
        # The loop this client lives on, when built inside one: the summary scheduler
        # starts there even when asked from another thread (the sync facade's callers).
        self._summaries.home = Home.current()
        self._owner = True
        watch(self._waiter, self._summaries)
        self.balance = Balance(self._transport, self._waiter, self._summaries)
        self.customers = Customers(self._transport, dashboard_token)
        secret = webhook_secret or os.environ.get("PACSPACE_WEBHOOK_SECRET")
        self.webhooks = (
            Webhooks(secret, on_event=self._on_webhook)
            if secret
            else Webhooks._unconfigured(on_event=self._on_webhook)
        )

    @classmethod
    def init(cls, api_key: str | None = None, **options: Unpack[ClientOptions]) -> PacSpace:
        """pacspace-sdk's constructor, ``PacSpace.init(key, production_url=...)``: the same
        keywords as ``PacSpace(...)``, but a number ``timeout`` is milliseconds, as there
        (``timeout=30_000`` is 30 s)."""
        return cls(**cls._init_arguments(api_key, **options))

    @staticmethod
    def _init_arguments(
        api_key: str | None = None, **options: Unpack[ClientOptions]
    ) -> ClientArguments:
        return seed_arguments(api_key, options)

    def with_options(
        self, *, timeout: Timeout | None = None, max_retries: int | None = None
    ) -> PacSpace:
        """This client with other request settings, on the same connection pool, waiter
        and summary queue: ``await pac.with_options(timeout=5).balance.usage()``.

        Cheap to make per call. Closing it does nothing; closing this client closes it.
        """
        config = dataclasses.replace(
            self._config,
            timeout=self._config.timeout if timeout is None else client_timeout(timeout, 0),
            max_retries=self._config.max_retries
            if max_retries is None
            else ClientConfig.retries(max_retries),
        )
        twin = copy.copy(self)
        twin._config = config
        twin._transport = self._transport.with_config(config)
        twin._owner = False
        twin.balance = Balance(twin._transport, self._waiter, self._summaries)
        twin.customers = Customers(twin._transport, self.customers._token)
        return twin

    def __repr__(self) -> str:
        key = redact(self._config.api_key)
        return f"PacSpace(base_url={self._config.base_url!r}, api_key={key!r})"

    @property
    def base_url(self) -> str:
        return self._config.base_url

    @property
    def environment(self) -> str:
        """``sandbox`` for ``pk_test_`` keys, else ``production``."""
        return self._config.environment

    async def verify(self, proof_root: str, source: str | None = None) -> Verification:
        """Check a proof root on the public verify endpoint (no API key is sent).

        ``source`` is ``db`` (default), ``chain`` or ``both``.
        """
        if source is not None and source not in _VERIFY_SOURCES:
            raise ValidationError(
                f"source must be one of db, chain, both, not {source!r}", field="source"
            )
        path = f"/api/v1/verify/{segment(check.text(proof_root, 'proofRoot'))}"
        if source and source != "db":
            path += f"?source={segment(source)}"
        return Verification.from_answer(
            *await self._transport.request("GET", path, authenticated=False)
        )

    # -- lifecycle ------------------------------------------------------------------

    async def aclose(self, reason: str | None = None) -> CloseReport:
        """Deliver what summaries and meters hold (``autoFlushOnShutdown``), stop the
        waiter, and release connections (an ``http_client`` you passed stays open).
        Later calls raise ``CLIENT_CLOSED``, with ``reason`` as the message if given.

        Returns what happened to the usage: ``undelivered`` summaries stay in an outbox,
        or are ``lost`` when they were held in memory (a WARNING says so too). The
        connections are released whatever the outbox did.
        """
        if not self._owner:
            return CloseReport()  # a with_options view: the client it came from owns all
        if reason is not None:
            self._transport.close_reason = check.text(reason, "reason")
        if self._deliveries is not None:
            self._deliveries.close()
        try:
            return await self._summaries.aclose()
        finally:
            try:
                await self._waiter.aclose()
            finally:
                await self._transport.aclose()

    async def shutdown(self, reason: str = "SDK shutdown") -> CloseReport:
        """pacspace-sdk's ``shutdown``: stop the summary scheduler (delivering what it
        holds, as :meth:`aclose` does) and close the client; every later call raises
        ``CLIENT_CLOSED`` with ``reason`` as its message."""
        return await self.aclose(reason)

    def _bind_loop(self) -> None:
        """``pacspace_sync``: this client lives on the running loop (the loop thread), though
        it was built in another thread."""
        self._summaries.home = Home.current()

    def _on_fork_child(self, revive: Callable[[], object]) -> None:
        """``pacspace_sync``: how a forked child brings a client back for its meters."""
        self._summaries.revive = revive

    def _adopt(self, old: PacSpace) -> None:
        """In a forked child (``pacspace_sync``): take over the meters of the client this
        one replaces, so that what they count from now on is sent by this one."""
        for meter in old._summaries.take_meters():
            self._summaries.adopt(meter)

    async def __aenter__(self) -> PacSpace:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- wiring -------------------------------------------------------------------------

    async def _status(self, record_id: str) -> RecordStatus:
        return await self.balance.delta_status(record_id)

    def _on_webhook(self, event: WebhookEvent) -> None:
        """A verified ``delta.verified``/``delta.failed`` delivery ends waits on its record."""
        status = _WAIT_EVENTS.get(event.event)
        data = event.data
        record_id = data.get("recordId") if status is not None and hasattr(data, "get") else None
        if not isinstance(record_id, str):
            return
        fields = {"recordId": record_id, "status": status}
        for key in ("receiptId", "customerId", "referenceId", "error", "failedAt"):
            if isinstance(data.get(key), str):  # anything else is not what the wait reports
                fields[key] = data.get(key)
        self._waiter.resolve(record_id, RecordStatus.model_validate(fields))
        if self._deliveries is not None:
            self._deliveries.publish(fields)

    def _on_fleet_news(self, fields: dict[str, Any]) -> None:
        """Another client on the outbox verified a delivery (on the channel's thread)."""
        self._waiter.resolve(fields["recordId"], RecordStatus.model_validate(fields))

"""``pac.balance.receipts``: receipt documents by id, their links, e-mail text and PDF.

The TypeScript SDK has these helpers and the official Python client does not; the paths
are ours until PacSpace publishes them (see ``wire-protocol.md``): they live in
:data:`PATHS` and nowhere else.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from typing_extensions import Unpack

from .. import _params as spec
from .. import _validate as check
from .._errors import ValidationError
from .._options import RequestOptions, RequestOverrides
from .._transport import Transport, query, segment
from ..types import ReceiptDocument

__all__ = ["PATHS", "Receipts"]

PATHS = {
    "list": "/api/v1/balance/receipts",
    "get": "/api/v1/balance/receipts/{receipt_id}",
    "pdf": "/api/v1/balance/receipts/{receipt_id}/pdf",
}
_LIST = spec.Call(
    spec.Param("customer_id", "customerId", check.identifier), spec.count("limit", "limit")
)
_PLAIN = spec.Call()


class Receipts:
    """Receipt documents. Reached as ``pac.balance.receipts``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def list(
        self,
        customer_id: str,
        options: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        **request: Unpack[RequestOverrides],
    ) -> builtins.list[ReceiptDocument]:
        """A customer's receipt documents, newest first."""
        merged = _LIST.merge(options, request, limit=limit)
        ro = RequestOptions.take(merged)
        params = _LIST.wire({**merged, "customer_id": check.identifier(customer_id, "customerId")})
        data, raw = await self._transport.request("GET", PATHS["list"] + query(params), options=ro)
        items = data.get("receipts", []) if isinstance(data, dict) else data
        if not isinstance(items, builtins.list):
            raise ValidationError(
                "the receipts answer has no list of receipts", 0, "INVALID_RESPONSE"
            )
        return [ReceiptDocument.from_answer(item, raw) for item in items]

    async def get(
        self,
        receipt_id: str,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> ReceiptDocument:
        """One receipt document by its id."""
        ro = RequestOptions.take(_PLAIN.merge(options, request))
        path = PATHS["get"].format(receipt_id=segment(check.text(receipt_id, "receiptId")))
        return ReceiptDocument.from_answer(*await self._transport.request("GET", path, options=ro))

    async def download_pdf(
        self,
        receipt_id: str,
        options: Mapping[str, Any] | None = None,
        **request: Unpack[RequestOverrides],
    ) -> bytes:
        """The receipt as a PDF document (bytes)."""
        ro = RequestOptions.take(_PLAIN.merge(options, request))
        path = PATHS["pdf"].format(receipt_id=segment(check.text(receipt_id, "receiptId")))
        data: bytes = (await self._transport.request("GET", path, options=ro, raw=True)).data
        return data

    def from_url(self, url: str) -> str:
        """The receipt id in a receipt permalink (``…/receipts/<id>`` or ``?receiptId=<id>``)."""
        parts = urlsplit(check.text(url, "url"))
        for pair in parts.query.split("&"):
            name, _, value = pair.partition("=")
            if name == "receiptId" and value:
                return unquote(value)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        for index, part in enumerate(segments[:-1]):
            if part in ("receipts", "receipt", "r"):
                candidate = segments[index + 1]
                if candidate != "pdf":
                    return candidate
        raise ValidationError(f"no receipt id in {url!r}", field="url")

    def email_body(self, document: ReceiptDocument | Mapping[str, Any]) -> str:
        """A plain-text e-mail body that hands a receipt to a customer."""
        doc = (
            document
            if isinstance(document, ReceiptDocument)
            else ReceiptDocument.from_answer(document)
        )
        lines = [
            "Hello,",
            "",
            "Here is the PacSpace receipt for your recorded usage.",
            "",
            f"Receipt:   {doc.receipt_id}",
        ]
        if doc.customer_id:
            lines.append(f"Customer:  {doc.customer_id}")
        if doc.amount is not None:
            lines.append(f"Amount:    {doc.amount}")
        if doc.reason:
            lines.append(f"Reason:    {doc.reason}")
        if doc.status:
            lines.append(f"Status:    {doc.status}")
        if doc.links.permalink:
            lines += ["", f"View and verify it independently: {doc.links.permalink}"]
        if doc.links.pdf:
            lines.append(f"PDF copy: {doc.links.pdf}")
        lines += ["", "This receipt can be checked against the public proof without an account."]
        return "\n".join(lines) + "\n"

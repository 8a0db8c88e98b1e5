"""Receipt PDFs, made with fpdf2 (a real document any reader opens)."""

from __future__ import annotations

from typing import Any, Literal

from starlette.responses import Response

from . import _answers as answers
from ._errors import LedgerError
from ._store import Row

__all__ = ["receipt_pdf", "receipt_pdf_response"]


def receipt_pdf_response(
    row: Row, now: float, base_url: str, disposition: Literal["inline", "attachment"]
) -> Response:
    """A receipt's PDF as an HTTP answer (the API's route shows it, the inspector's
    downloads it), or a 501 :class:`LedgerError` naming the extra that makes PDFs."""
    try:
        pdf = receipt_pdf(answers.receipt_document(row, now, base_url))
    except ModuleNotFoundError:
        message = 'Receipt PDFs need the sandbox extra: pip install "pacspace[sandbox]"'
        raise LedgerError(501, "NOT_IMPLEMENTED", message) from None
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'{disposition}; filename="{row["receipt_id"]}.pdf"'},
    )


def _latin1(value: Any) -> str:
    # The core PDF fonts cover Latin-1; anything else is shown as "?" rather than failing.
    return str(value).encode("latin-1", "replace").decode("latin-1")


def receipt_pdf(document: dict[str, Any]) -> bytes:
    """The receipt as a PDF. fpdf2 comes with the sandbox extra: imported here, so the
    in-process sandbox of a plain install serves everything but this document."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(f"PacSpace receipt {document['receiptId']}"))
    pdf.set_creator("PacSpace sandbox")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 12, "PacSpace receipt", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(0, 6, "Sandbox environment - not a production record", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_text_color(0, 0, 0)
    rows = [
        ("Receipt", document["receiptId"]),
        ("Record", document["recordId"]),
        ("Customer", document["customerId"]),
        ("Amount", document["amount"]),
        ("Reason", document["reason"]),
        ("Reference", document.get("referenceId") or "-"),
        ("Status", document["status"]),
        ("Recorded at", document["createdAt"]),
        ("Verified at", document.get("verifiedAt") or "-"),
        ("Content hash", document["contentHash"]),
        ("Proof hash", document.get("proofHash") or "-"),
    ]
    for label, value in rows:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(35, 7, _latin1(label))
        pdf.set_font("Courier" if "hash" in label.lower() else "Helvetica", "", 9)
        pdf.multi_cell(0, 7, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(0, 5, _latin1(f"Verify independently: {document['links']['permalink']}"))
    return bytes(pdf.output())

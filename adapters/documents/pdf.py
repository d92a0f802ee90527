"""An invoice as a PDF, laid out with fpdf2 from an ``InvoiceView``.

The core Helvetica font only has Latin-1 glyphs; a document with any other character
(a customer called 李) embeds DejaVu Sans when the system has it (``TALLY_PDF_FONT``
may name another TrueType file), else such characters are shown as ``?`` rather than
failing the request.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from adapters.documents.model import InvoiceView

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)
LINE_MM = 6.0
WIDTHS_MM = (95.0, 20.0, 35.0, 35.0)  # description, quantity, unit price, amount


@lru_cache(maxsize=1)
def unicode_font() -> str | None:
    configured = os.environ.get("TALLY_PDF_FONT")
    for candidate in ([configured] if configured else []) + list(FONT_CANDIDATES):
        if Path(candidate).is_file():
            return candidate
    return None


def _texts(view: InvoiceView) -> list[str]:
    texts = [view.title, view.status, view.seller.name, view.buyer.name, *view.notes]
    texts += view.seller.lines + view.buyer.lines
    texts += [v for pair in view.dates + view.totals for v in pair]
    texts += [line.description for line in view.lines]
    return texts


class _Writer:
    """Holds the document and the chosen font, so each part is a short method."""

    def __init__(self, view: InvoiceView) -> None:
        self.view = view
        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.set_title(view.title)
        self.pdf.set_creator("Tally")
        self.latin1 = all(_encodable(t) for t in _texts(view))
        self.family = "Helvetica"
        font = None if self.latin1 else unicode_font()
        if font is not None:
            self.pdf.add_font("Body", "", font)
            self.pdf.add_font("Body", "B", font)
            self.family = "Body"
            self.latin1 = True  # the embedded font covers the rest
        self.pdf.add_page()

    def text(self, value: str) -> str:
        return value if self.latin1 else value.encode("latin-1", "replace").decode("latin-1")

    def cell(self, width: float, value: str, *, bold: bool = False, align: str = "L") -> None:
        self.pdf.set_font(self.family, "B" if bold else "", 10)
        self.pdf.cell(width, LINE_MM, self.text(value), align=align)

    def row(self, cells: list[tuple[float, str, str]], *, bold: bool = False) -> None:
        for width, value, align in cells:
            self.cell(width, value, bold=bold, align=align)
        self.pdf.ln(LINE_MM)

    def header(self) -> None:
        self.pdf.set_font(self.family, "B", 18)
        self.pdf.cell(0, 10, self.text(self.view.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.row([(0, f"Status: {self.view.status}", "L")])
        for label, value in self.view.dates:
            self.row([(35, label, "L"), (0, value, "L")])
        self.pdf.ln(LINE_MM / 2)
        seller, buyer = self.view.seller, self.view.buyer
        self.row([(95, "From", "L"), (0, "Bill to", "L")], bold=True)
        left = [seller.name, *seller.lines]
        right = [buyer.name, *buyer.lines]
        for i in range(max(len(left), len(right))):
            a = left[i] if i < len(left) else ""
            b = right[i] if i < len(right) else ""
            self.row([(95, a, "L"), (0, b, "L")])
        self.pdf.ln(LINE_MM)

    def lines(self) -> None:
        """The lines as a table; a long description wraps inside its cell."""
        self.pdf.set_font(self.family, "", 10)
        names = ("Description", "Qty", "Unit price", "Amount")
        with self.pdf.table(
            col_widths=WIDTHS_MM,
            width=sum(WIDTHS_MM),
            align="LEFT",
            text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
            borders_layout="HORIZONTAL_LINES",
            line_height=LINE_MM,
        ) as table:
            table.row([self.text(n) for n in names])
            for line in self.view.lines:
                values = (line.description, line.quantity, line.unit_amount, line.amount)
                table.row([self.text(v) for v in values])
        self.pdf.ln(LINE_MM / 2)

    def totals(self) -> None:
        for label, value in self.view.totals:
            bold = label in ("Total", "Amount due")
            self.row([(115, "", "L"), (40, label, "L"), (30, value, "R")], bold=bold)
        for note in self.view.notes:
            self.pdf.ln(LINE_MM / 2)
            self.pdf.set_font(self.family, "", 9)
            self.pdf.multi_cell(0, 5, self.text(note))


def _encodable(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def render_pdf(view: InvoiceView) -> bytes:
    writer = _Writer(view)
    writer.header()
    writer.lines()
    writer.totals()
    return bytes(writer.pdf.output())

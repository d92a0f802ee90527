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

from adapters.documents.model import InvoiceView, LineView

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)
LINE_MM = 6.0
WIDTHS_MM = (95.0, 20.0, 35.0, 35.0)  # description, quantity, unit price, amount
ALIGNS = ("L", "R", "R", "R")


@lru_cache(maxsize=1)
def unicode_font() -> str | None:
    configured = os.environ.get("TALLY_PDF_FONT")
    for candidate in ([configured] if configured else []) + list(FONT_CANDIDATES):
        if Path(candidate).is_file():
            return candidate
    return None


def _texts(view: InvoiceView) -> list[str]:
    texts = [view.title, view.status, view.summary, view.seller.name, view.buyer.name]
    texts += view.notes
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
        if self.view.summary:
            self.row([(0, self.view.summary, "L")])
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
        names = ("Description", "Qty", "Unit price", "Amount")
        self.row([(w, n, a) for w, n, a in zip(WIDTHS_MM, names, ALIGNS, strict=True)], bold=True)
        self.rule()
        for line in self.view.lines:
            if line.detail:
                self.detail(line)
            else:
                self.line(line.description, (line.quantity, line.unit_amount, line.amount))
        self.rule()
        self.pdf.ln(LINE_MM / 2)

    def rule(self) -> None:
        """A thin grey line across the table, under its heading and under its lines."""
        y = self.pdf.get_y()
        self.pdf.set_draw_color(200, 200, 200)
        self.pdf.line(self.pdf.l_margin, y, self.pdf.l_margin + sum(WIDTHS_MM), y)
        self.pdf.set_draw_color(0, 0, 0)

    def detail(self, line: LineView) -> None:
        """A part of the line above (a tier): indented, smaller and grey."""
        self.pdf.set_text_color(90, 90, 90)
        self.pdf.set_font(self.family, "", 9)
        indent = 6.0
        figures = (line.quantity, line.unit_amount, line.amount)
        self.pdf.cell(indent, LINE_MM - 1)
        self.pdf.cell(WIDTHS_MM[0] - indent, LINE_MM - 1, self.text(line.description))
        for width, value, align in zip(WIDTHS_MM[1:], figures, ALIGNS[1:], strict=True):
            self.pdf.cell(width, LINE_MM - 1, self.text(value), align=align)
        self.pdf.ln(LINE_MM - 1)
        self.pdf.set_text_color(0, 0, 0)

    def line(self, description: str, figures: tuple[str, str, str]) -> None:
        """One invoice line. A description wider than its column wraps inside it (never
        cut), and the figures stay on its first row; a short one takes the plain path,
        which is several times faster than a table."""
        text = self.text(description)
        self.pdf.set_font(self.family, "", 10)
        width = WIDTHS_MM[0]
        rest = list(zip(WIDTHS_MM[1:], figures, ALIGNS[1:], strict=True))
        if self.pdf.get_string_width(text) <= width - 2 * self.pdf.c_margin:
            self.row([(width, text, "L"), *rest])
            return
        wrapped = self.pdf.multi_cell(width, LINE_MM, text, dry_run=True, output="LINES")
        assert isinstance(wrapped, list), wrapped  # output="LINES" answers the lines
        rows = len(wrapped)
        if self.pdf.get_y() + rows * LINE_MM > self.pdf.page_break_trigger:
            self.pdf.add_page()
        top = self.pdf.get_y()
        self.pdf.multi_cell(width, LINE_MM, text, new_x=XPos.RIGHT, new_y=YPos.TOP)
        for cell_width, value, align in rest:
            self.cell(cell_width, value, align=align)
        self.pdf.set_xy(self.pdf.l_margin, top + rows * LINE_MM)

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

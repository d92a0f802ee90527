"""Invoice documents over HTTP: the PDF's text read back with pypdf (number, dates,
seller, buyer, lines, discount, tax per rate, totals, amounts per currency exponent),
and the HTML page with every value escaped."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.e2e.billing import customer, problem
from tests.e2e.conftest import Client
from tests.e2e.invoicing import act, coupon, draft, line, pdf_text, tax_rate


def test_pdf_shows_parties_lines_discount_tax_and_totals(api: Client) -> None:
    vat = tax_rate(api, "19", jurisdiction="DE", name="MwSt")
    coupon(api, "TEN", percent_off="10")
    buyer = customer(api, "user_42", name="Ada Lovelace", email="ada@example.com")
    invoice = draft(api, buyer, line("Pro plan", 2000, tax_rate_ids=[vat]), line("Seats", 500, 2))
    act(api, invoice["id"], "coupon", {"coupon_code": "TEN"})
    final = act(api, invoice["id"], "finalize")["invoice"]
    text = pdf_text(api, invoice["id"])
    # Subtotal 3000, discount 300 shared 200:100, tax (2000 - 200) x 19% = 342.
    for expected in (
        f"Invoice {final['number']}",
        "Status: open",
        f"Issued {final['finalized_at'][:10]}",
        "acme",
        "Ada Lovelace",
        "ada@example.com",
        "Customer ref: user_42",
        "Pro plan 1 20.00 EUR 20.00 EUR",
        "Seats 2 5.00 EUR 10.00 EUR",
        "Subtotal 30.00 EUR",
        "Discount (TEN) -3.00 EUR",
        "MwSt (DE) 19% 3.42 EUR",
        "Total 30.42 EUR",
        "Amount due 30.42 EUR",
    ):
        assert expected in text, f"{expected!r} not in PDF text:\n{text}"


@pytest.mark.parametrize(
    ("currency", "unit_amount", "shown"),
    [("JPY", 1234, "1234 JPY"), ("EUR", 1234, "12.34 EUR"), ("BHD", 1234, "1.234 BHD")],
)
def test_pdf_amounts_follow_the_currency_exponent(
    api: Client, currency: str, unit_amount: int, shown: str
) -> None:
    buyer = customer(api, f"c_{currency}", currency=currency)
    invoice = draft(api, buyer, line("Plan", unit_amount))
    act(api, invoice["id"], "finalize")
    text = pdf_text(api, invoice["id"])
    assert f"Plan 1 {shown} {shown}" in text
    assert f"Total {shown}" in text


def test_a_paid_invoice_pdf_says_paid_and_nothing_due(api: Client) -> None:
    invoice = draft(api, None, line("Work", 999))
    act(api, invoice["id"], "finalize")
    act(api, invoice["id"], "pay", {"method": "out_of_band", "reference": "wire"})
    text = pdf_text(api, invoice["id"])
    assert "Status: paid" in text
    assert "Amount paid 9.99 EUR" in text
    assert "Amount due 0.00 EUR" in text


def test_a_draft_reads_draft_and_the_filename_is_the_number(api: Client) -> None:
    invoice = draft(api, None, line("Work", 100))
    assert "Invoice DRAFT" in pdf_text(api, invoice["id"])
    final = act(api, invoice["id"], "finalize")["invoice"]
    response = api.get(f"/v1/invoices/{invoice['id']}/pdf")
    assert f'filename="{final["number"]}.pdf"' in response.headers["content-disposition"]


def test_html_escapes_every_value(api: Client) -> None:
    buyer = customer(api, "x<1>", name='<script>alert("x")</script>', email="a&b@example.com")
    invoice = draft(api, buyer, line("<b>bold</b> & more", 1234), description='it\'s "quoted"')
    act(api, invoice["id"], "finalize")
    response = api.get(f"/v1/invoices/{invoice['id']}/html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert "<script>" not in page
    assert "<b>bold" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in page
    assert "a&amp;b@example.com" in page
    assert "Customer ref: x&lt;1&gt;" in page
    assert "it&#x27;s &quot;quoted&quot;" in page
    assert "12.34 EUR" in page


def test_documents_of_an_unknown_invoice_answer_404(api: Client) -> None:
    missing = "00000000-0000-5000-8000-000000000000"
    problem(api.get(f"/v1/invoices/{missing}/pdf"), 404, "not_found")
    problem(api.get(f"/v1/invoices/{missing}/html"), 404, "not_found")


def test_cli_writes_the_same_documents(
    api: Client, pg_url: str, schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.cli import main

    buyer = customer(api, "cli", name="Cli Buyer")
    invoice = draft(api, buyer, line("Plan", 4200))
    final = act(api, invoice["id"], "finalize")["invoice"]
    monkeypatch.setenv("TALLY_DATABASE_URL", pg_url)
    monkeypatch.setenv("TALLY_DB_SCHEMA", schema)
    pdf, page = tmp_path / "invoice.pdf", tmp_path / "invoice.html"
    project = str(api.project_id)
    assert main(["invoices", "pdf", invoice["id"], "--project", project, "-o", str(pdf)]) == 0
    assert main(["invoices", "html", invoice["id"], "--project", project, "-o", str(page)]) == 0
    text = "\n".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert f"Invoice {final['number']}" in text
    assert "Total 42.00 EUR" in text
    assert "Cli Buyer" in page.read_text()
    other_project = "00000000-0000-5000-8000-000000000001"
    refused = ["invoices", "pdf", invoice["id"], "--project", other_project, "-o", str(pdf)]
    assert main(refused) == 1


def test_a_long_description_wraps_whole_in_the_pdf(api: Client) -> None:
    words = " ".join(f"word{i}" for i in range(40))
    invoice = draft(api, None, line(words, 100))
    text = " ".join(pdf_text(api, invoice["id"]).split())
    assert words in text
    assert "word39 1 1.00 EUR 1.00 EUR" in text


def test_many_lines_run_over_pages_and_every_one_is_shown(api: Client) -> None:
    lines = [line(f"item{i:02d} " + "padding " * 12, 100 + i) for i in range(60)]
    invoice = draft(api, None, *lines)
    response = api.get(f"/v1/invoices/{invoice['id']}/pdf")
    pages = PdfReader(io.BytesIO(response.content)).pages
    assert len(pages) > 1
    text = " ".join(" ".join(p.extract_text() for p in pages).split())
    for i in range(60):
        assert f"item{i:02d}" in text
    assert "Subtotal 77.70 EUR" in text  # 60 x 100 + (0 + ... + 59)
    assert "Amount due 77.70 EUR" in text  # a draft: what finalizing it would ask

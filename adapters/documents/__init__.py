"""Invoice documents: the same invoice as a PDF (fpdf2) and as an HTML page.

``model.invoice_view`` turns an invoice (the read model's dict), the seller and the buyer
into plain display strings once; ``pdf.render_pdf`` and ``html.render_html`` only lay
those strings out, so both documents always say the same thing.
"""

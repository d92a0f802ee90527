"""An invoice as one self-contained HTML page. Every value passes through
``html.escape`` (quotes too), so a customer named ``<script>`` is shown, never run."""

from __future__ import annotations

from html import escape

from adapters.documents.model import InvoiceView, Party

STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;width:100%}"
    "td,th{padding:4px 8px;border-bottom:1px solid #ddd}"
    ".num{text-align:right}.parties{display:flex;gap:4em;margin:1em 0}"
)


def _e(value: str) -> str:
    return escape(value, quote=True)


def _party(title: str, party: Party) -> str:
    rows = "".join(f"<div>{_e(line)}</div>" for line in party.lines)
    return f'<div><h3>{_e(title)}</h3><div class="name">{_e(party.name)}</div>{rows}</div>'


def render_html(view: InvoiceView) -> str:
    dates = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in view.dates)
    lines = "".join(
        f"<tr><td>{_e(li.description)}</td><td class=num>{_e(li.quantity)}</td>"
        f"<td class=num>{_e(li.unit_amount)}</td><td class=num>{_e(li.amount)}</td></tr>"
        for li in view.lines
    )
    totals = "".join(f"<tr><th>{_e(k)}</th><td class=num>{_e(v)}</td></tr>" for k, v in view.totals)
    notes = "".join(f"<p>{_e(note)}</p>" for note in view.notes)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(view.title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_e(view.title)}</h1><p>Status: {_e(view.status)}</p>"
        f"<table class=dates>{dates}</table>"
        f'<div class="parties">{_party("From", view.seller)}{_party("Bill to", view.buyer)}</div>'
        "<table class=lines><thead><tr><th>Description</th><th class=num>Qty</th>"
        f"<th class=num>Unit price</th><th class=num>Amount</th></tr></thead>"
        f"<tbody>{lines}</tbody></table>"
        f"<table class=totals>{totals}</table>{notes}</body></html>"
    )

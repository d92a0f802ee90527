"""An invoice as one self-contained HTML page. Every value passes through
``html.escape`` (quotes too), so a customer named ``<script>`` is shown, never run.
The style is inline and the page loads nothing else (its Content-Security-Policy
forbids it)."""

from __future__ import annotations

from html import escape

from adapters.documents.model import InvoiceView, LineView, Party

STYLE = (
    "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2933;"
    "background:#f4f5f7;margin:0;padding:2em}"
    ".sheet{max-width:820px;margin:0 auto;background:#fff;padding:2.5em 3em;"
    "border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.08)}"
    "h1{font-size:1.6em;margin:0 0 .2em}.muted{color:#616e7c}"
    ".top{display:flex;justify-content:space-between;gap:2em;align-items:flex-start}"
    ".dates th{text-align:left;font-weight:normal;color:#616e7c;padding:2px 1em 2px 0}"
    ".dates td{padding:2px 0}"
    ".parties{display:flex;gap:4em;margin:2em 0}.parties h3{font-size:.8em;"
    "text-transform:uppercase;letter-spacing:.05em;color:#616e7c;margin:0 0 .4em}"
    ".name{font-weight:600}table.lines,table.totals{border-collapse:collapse;width:100%}"
    ".lines th{text-align:left;font-size:.85em;color:#616e7c;border-bottom:2px solid #cbd2d9}"
    ".lines td,.lines th{padding:6px 8px}.lines td{border-bottom:1px solid #e4e7eb}"
    ".lines tr.detail td{border-bottom:none;color:#616e7c;font-size:.9em;padding:2px 8px}"
    ".lines tr.detail td:first-child{padding-left:2em}"
    ".num,.lines th.num{text-align:right;white-space:nowrap}.lines td:first-child{width:55%}"
    "table.totals{width:auto;margin:1.5em 0 0 auto}.totals th{text-align:left;"
    "font-weight:normal;padding:3px 2em 3px 0}.totals td{padding:3px 8px}"
    ".totals tr.strong th,.totals tr.strong td{font-weight:700;border-top:1px solid #cbd2d9}"
    ".status{display:inline-block;padding:2px 10px;border-radius:10px;background:#e4e7eb;"
    "font-size:.85em}.notes{margin-top:2em;font-size:.9em;color:#3e4c59}"
)
STRONG = ("Total", "Amount due")


def _e(value: str) -> str:
    return escape(value, quote=True)


def _party(title: str, party: Party) -> str:
    rows = "".join(f"<div>{_e(line)}</div>" for line in party.lines)
    return f'<div><h3>{_e(title)}</h3><div class="name">{_e(party.name)}</div>{rows}</div>'


def _line(line: LineView) -> str:
    kind = ' class="detail"' if line.detail else ""
    return (
        f"<tr{kind}><td>{_e(line.description)}</td><td class=num>{_e(line.quantity)}</td>"
        f"<td class=num>{_e(line.unit_amount)}</td><td class=num>{_e(line.amount)}</td></tr>"
    )


def _totals(view: InvoiceView) -> str:
    return "".join(
        f"<tr{' class=strong' if k in STRONG else ''}><th>{_e(k)}</th>"
        f"<td class=num>{_e(v)}</td></tr>"
        for k, v in view.totals
    )


def render_html(view: InvoiceView) -> str:
    dates = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in view.dates)
    summary = f'<div class="muted">{_e(view.summary)}</div>' if view.summary else ""
    notes = "".join(f"<p>{_e(note)}</p>" for note in view.notes)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(view.title)}</title><style>{STYLE}</style></head><body>"
        '<div class="sheet"><div class="top"><div>'
        f'<h1>{_e(view.title)}</h1>{summary}<p>Status: <span class="status">'
        f"{_e(view.status)}</span></p></div>"
        f"<table class=dates>{dates}</table></div>"
        f'<div class="parties">{_party("From", view.seller)}{_party("Bill to", view.buyer)}</div>'
        "<table class=lines><thead><tr><th>Description</th><th class=num>Qty</th>"
        f"<th class=num>Unit price</th><th class=num>Amount</th></tr></thead>"
        f"<tbody>{''.join(_line(li) for li in view.lines)}</tbody></table>"
        f'<table class=totals>{_totals(view)}</table><div class="notes">{notes}</div>'
        "</div></body></html>"
    )

"""The documentation pages, /docs (Swagger UI) and /redoc (ReDoc), work with no network:
their HTML names no other host, and every script, style sheet and icon they load comes
from Tally itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

# Any absolute or protocol-relative URL, wherever it appears in the page (attributes or
# the inline script that starts the viewer).
EXTERNAL = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


class Assets(HTMLParser):
    """The URLs a page loads by itself: script sources, style sheets and icons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(str(found["src"]))
        if tag == "link" and found.get("href"):
            self.urls.append(str(found["href"]))


def page_assets(html: str) -> list[str]:
    parser = Assets()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize(
    ("page", "script"), [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")]
)
def test_docs_page_names_no_other_host_and_its_assets_load_from_tally(
    http: TestClient, page: str, script: str
) -> None:
    response = http.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert EXTERNAL.findall(response.text) == []
    assets = page_assets(response.text)
    assert any(url.endswith(script) for url in assets), assets
    assert any(url.endswith(".png") for url in assets), assets
    for url in assets:
        assert urlsplit(url).netloc == "", url
        loaded = http.get(url)
        assert loaded.status_code == 200, url
        assert len(loaded.content) > 0, url
    assert "'/openapi.json'" in response.text or '"/openapi.json"' in response.text
    assert http.get("/openapi.json").status_code == 200


def test_swagger_ui_script_and_style_are_served_with_their_types(http: TestClient) -> None:
    urls = page_assets(http.get("/docs").text)
    types = {url.rsplit(".", 1)[-1]: http.get(url).headers["content-type"] for url in urls}
    assert types["js"].startswith(("text/javascript", "application/javascript"))
    assert types["css"].startswith("text/css")
    assert types["png"] == "image/png"

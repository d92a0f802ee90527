"""The API's documentation pages, served whole by Tally so they work with no network.

FastAPI's own ``/docs`` and ``/redoc`` load Swagger UI and ReDoc from a CDN, so on a
machine without internet they are blank pages. Here both pages take their scripts, style
sheet and icon from the static folder of the ``fastapi-offline`` wheel (Swagger UI 5 and
ReDoc 2, as published on PyPI, not copied by hand), mounted under ``/docs/assets``. ReDoc
is asked not to load Google Fonts for the same reason.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
# The wheel's folder of viewer assets: swagger-ui-bundle.js, swagger-ui.css,
# redoc.standalone.js and favicon.png.
ASSETS_PACKAGE = ("fastapi_offline", "static")


def install(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their assets; the app must be made with
    ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages are not there too."""
    app.mount(ASSETS_URL, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API reference",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(REDOC_URL, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API reference",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )


def _root(request: Request) -> str:
    """The path prefix a proxy serves the app under (``--root-path``), as FastAPI's own
    pages use it, so the links work there too."""
    return str(request.scope.get("root_path", "")).rstrip("/")

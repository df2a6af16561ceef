"""Mount the console onto the FastAPI app: static files, per-request state, routers.

Console routers are listed in ``ROUTE_MODULES`` (``yunying.web.routes.<area>``, each
exposing ``router``) and imported lazily, so an area can be added without touching the
others. Every console router gets the CSRF check as a router-level dependency.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from yunying.web.deps import csrf_protect
from yunying.web.errors import install_error_handlers
from yunying.web.middleware import ConsoleStateMiddleware

STATIC = Path(__file__).parent / "static"
ROUTE_MODULES = [
    "auth",
    "account",
    "home",
    "settings",
    "members",
    "overview",
    "insights",
    "dashboards",
    "people",
    "events",
    "segments",
    "layers",
    "churn",
    "channels",
]


def plotly_js_path() -> Path:
    """Plotly's bundle as shipped inside the installed ``plotly`` package (no CDN)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def mount_console(app: FastAPI) -> None:
    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            plotly_js_path(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for name in ROUTE_MODULES:
        module = importlib.import_module(f"yunying.web.routes.{name}")
        app.include_router(
            module.router, dependencies=[Depends(csrf_protect)], include_in_schema=False
        )
    install_error_handlers(app)
    app.add_middleware(ConsoleStateMiddleware)

"""The FastAPI application factory.

Routers are added here and nowhere else, so the whole HTTP surface is visible in one file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from yunying import __version__
from yunying.api.state import AppState
from yunying.config import Settings, get_settings
from yunying.store.base import EventStore
from yunying.web.app import mount_console


def create_app(settings: Settings | None = None, *, store: EventStore | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.yunying = AppState.build(settings, store=store)
        stop_jobs = _start_jobs(settings, app.state.yunying.store)
        try:
            yield
        finally:
            stop_jobs()
            app.state.yunying.close()

    app = FastAPI(
        title="Yunying API",
        version=__version__,
        description="Yunying (运营): track, analyse, segment, act, review.",
        lifespan=lifespan,
    )
    _include_routers(app)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    mount_console(app)  # the operations console: pages, static files, sign-in

    return app


def _start_jobs(settings: Settings, store: EventStore) -> Callable[[], None]:
    """The embedded job worker (settings.embedded_worker); returns its stop function."""
    if not settings.embedded_worker:
        return lambda: None
    from yunying.jobs.embedded import start_embedded_worker

    return start_embedded_worker(settings, store)


def _include_routers(app: FastAPI) -> None:
    from yunying.api import routers

    for router in routers.all_routers():
        app.include_router(router)

"""A real Yunying server in a subprocess, for tests that need real HTTP, SDKs or crashes.

Usage::

    from tests.live_server import LiveServer, live_server

    def test_something(tmp_path):
        with live_server(tmp_path) as server:
            httpx.post(f"{server.url}/capture/", json={"api_key": server.public_key, ...})
            server.kill()             # SIGKILL: no shutdown hooks run
            server.start()            # same data dir, same keys, new port
            ...
        # leaving the block stops the server (SIGTERM, then SIGKILL)

    # or as a fixture in your own test module:
    @pytest.fixture
    def server(tmp_path):
        with live_server(tmp_path) as s:
            yield s

What it does: creates ``data_dir`` (``tmp_path / "data"``), runs the Alembic migrations
and ``create_project`` there (keys in ``public_key`` / ``secret_key``), then runs
``python -m uvicorn --factory yunying.api.app:create_app`` on a free 127.0.0.1 port with
``YUNYING_DATA_DIR`` (plus any ``env`` you pass, e.g. ``{"YUNYING_INGEST_FLUSH_MS": "5"}``)
and waits for ``/healthz``. Server output goes to ``data_dir / "server.log"`` (shown in the
error if start-up fails). ``events_rows(sql)`` opens the DuckDB file read-only, which is
only allowed while the server is stopped (DuckDB has one writer process).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from yunying.config import Settings
from yunying.db.migrate import upgrade
from yunying.db.projects import create_project
from yunying.db.session import make_engine, make_sessionmaker, session_scope

START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """A project on disk plus (while running) a uvicorn subprocess serving it."""

    data_dir: Path
    project_id: int
    public_key: str
    secret_key: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir)

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start the server (on a new free port) and wait until ``/healthz`` answers."""
        if self.running:
            raise RuntimeError("server already running")
        self.port = free_port()
        env = {
            **os.environ,
            "YUNYING_DATA_DIR": str(self.data_dir),
            "YUNYING_HOST": "127.0.0.1",
            "YUNYING_PORT": str(self.port),
            **self.env,
        }
        cmd = [
            sys.executable, "-m", "uvicorn", "--factory", "yunying.api.app:create_app",
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
        ]  # fmt: skip
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server did not answer /healthz in {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: nothing is flushed or closed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self, timeout: float = 20.0) -> None:
        """Graceful stop (SIGTERM: uvicorn runs the app's shutdown); SIGKILL if it hangs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def events_rows(self, sql: str) -> list[dict[str, Any]]:
        """Run SQL on the event store file directly (server must be stopped or killed)."""
        if self.running:
            raise RuntimeError("stop the server first: DuckDB allows one process at a time")
        from yunying.store.duckdb import DuckDBStore

        store = DuckDBStore(self.settings.duckdb_path, read_only=True)
        try:
            return store.query(sql).to_pylist()
        finally:
            store.close()


def prepare(tmp_path: Path, *, env: Mapping[str, str] | None = None) -> LiveServer:
    """Create the data dir, migrate it and create one project (server not started)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir)
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            project, public, secret = create_project(session, name="live test")
            project_id = project.id
    finally:
        engine.dispose()
    return LiveServer(data_dir, project_id, public.token, secret.token, dict(env or {}))


@contextmanager
def live_server(tmp_path: Path, *, env: Mapping[str, str] | None = None) -> Iterator[LiveServer]:
    """A prepared and started server; stopped (gracefully) when the block ends."""
    server = prepare(tmp_path, env=env)
    server.start()
    try:
        yield server
    finally:
        server.stop()

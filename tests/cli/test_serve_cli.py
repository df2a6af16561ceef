"""``yunying up`` and ``serve``: first run end to end, a real server, clear start-up errors."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import Cli, keys_from


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def yunying(*args: str, **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "yunying.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def test_up_initialises_loads_demo_once_and_prints_where_things_are(cli: Cli) -> None:
    pytest.importorskip("yunying.demo")
    args = ("up", "--no-serve", "--demo-persons", "20", "--demo-days", "3", "--port", "8123")
    first = cli.ok(*args)
    public, _ = keys_from(first.stdout)
    assert "Loaded demo data" in first.stdout
    assert "http://127.0.0.1:8123" in first.stdout
    assert "first-run-credentials.txt" in first.stdout
    second = cli.ok(*args)
    assert "already has events" in second.stdout
    assert f"Public key:  {public}" in second.stdout
    assert "yys_" not in second.stdout


def test_serve_refuses_a_busy_port(ready: Cli) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = str(s.getsockname()[1])
        ready.user_error("serve", "--port", port, match=f"cannot listen on 127.0.0.1:{port}")
        ready.user_error("up", "--port", port, match="cannot listen")


def test_real_server_and_cli_side_by_side(ready: Cli) -> None:
    creds = (ready.data_dir / "first-run-credentials.txt").read_text()
    secret = re.search(r"secret_key=(\S+)", creds).group(1)  # type: ignore[union-attr]
    port = free_port()
    env = {**os.environ, "YUNYING_DATA_DIR": str(ready.data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "yunying.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        r = httpx.get(f"{url}/api/projects/1", headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 200 and r.json()["name"] == "Default"
        # The server holds the DuckDB file: the CLI says so and points to the API.
        result = ready.user_error("query", "trends", "-e", "x", match="in use by another process")
        assert "HTTP API" in result.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_entry_point_errors_have_no_traceback(tmp_path: Path) -> None:
    done = yunying("projects", "list", "--data-dir", str(tmp_path / "none"))
    assert done.returncode == 2
    assert "Error:" in done.stderr and "yunying init" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    usage = yunying("query")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_up_without_demo_and_a_failing_demo(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    out = cli.ok("up", "--no-serve", "--no-demo").stdout
    assert "Loaded demo data" not in out and "Public key:  phc_" in out
    demo = pytest.importorskip("yunying.demo")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("generator exploded")

    monkeypatch.setattr(demo, "load_demo", broken)
    cli.user_error("up", "--no-serve", match=r"demo data could not be loaded.*--no-demo")

"""ClickHouse's HTTP interface for tests, answered by chdb: the real engine behind a thin front.

Why: no registry this project can reach ships a modern ClickHouse server binary (Debian's is
18.16, chdb has no server mode), yet the server path (clickhouse-connect over HTTP) must be
tested for real. The SQL here runs on ClickHouse itself (chdb is clickhouse-local in a
library); only the HTTP layer is ours, written to ClickHouse's documented protocol so the
unchanged client library talks to it:

- ``GET /ping`` and ``GET /`` answer ``Ok.``;
- the query is the ``query`` URL parameter, then a line feed, then the POST body;
  ``INSERT ... FORMAT <fmt>`` takes the data after the statement's line, which ClickHouse's
  own input format reads (from a temporary file through ``file()``, with the table's types);
- ``database``, ``default_format``, ``query_id``, ``session_id`` and settings as URL
  parameters (a setting holds for that request only), ``param_*`` query parameters;
- user and password (Basic auth, ``X-ClickHouse-User``/``-Key`` headers or parameters);
- gzip/deflate request bodies, gzip/deflate responses when ``enable_http_compression=1``;
- ``X-ClickHouse-Query-Id``, ``-Format``, ``-Timezone``, ``-Summary``, ``-Server-Display-Name``
  headers; errors as ClickHouse's text with ``X-ClickHouse-Exception-Code`` and its HTTP
  status, ``SESSION_IS_LOCKED`` for concurrent requests in one session.

Not emulated: the native TCP protocol, session state (``SET``, temporary tables), external
data tables, ``decompress=1`` bodies, progress headers, users and grants beyond one
password. Queries run one at a time (chdb is one engine per process), so run this in its
own process (``spawn``): chdb elsewhere in the test process would be the same engine.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# URL parameters the HTTP interface consumes itself; every other one is a setting.
_TRANSPORT = {
    "query",
    "database",
    "default_format",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "user",
    "password",
    "quota_key",
    "compress",
    "decompress",
    "buffer_size",
    "wait_end_of_query",
    "client_protocol_version",
    "role",
    "stacktrace",
    "close_session",
}
_INSERT_DATA = re.compile(
    rb"\s*INSERT\s+INTO\s+(?P<target>.+?)\s+FORMAT\s+(?P<fmt>[A-Za-z0-9_]+)[ \t]*(?:\r?\n|$)",
    re.IGNORECASE | re.DOTALL,
)
_TARGET = re.compile(r"(?P<table>[^\s(]+)\s*(?:\((?P<cols>.*)\))?\s*", re.DOTALL)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.IGNORECASE)
_RESULT_STATEMENT = re.compile(
    r"\s*\(*\s*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN|CHECK)\b", re.IGNORECASE
)
_READ_ONLY_STATEMENT = re.compile(r"\s*\(*\s*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS)\b", re.I)
_CODE = re.compile(r"Code: (\d+)\.")

# The HTTP status ClickHouse's HTTPHandler gives some exception codes (the rest: 500).
_STATUS = {
    27: 400, 6: 400, 38: 400, 41: 400, 43: 400, 47: 400, 53: 400, 62: 400, 115: 400,
    46: 404, 60: 404, 81: 404,
    164: 403, 192: 403, 193: 403, 516: 403, 497: 403,
    48: 501,
}  # fmt: skip
_CONTENT_TYPE = {
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TSV": "text/tab-separated-values; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8; header=absent",
    "JSON": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
}


class HarnessError(Exception):
    """A request refused the way ClickHouse refuses it: code, name and message."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(f"Code: {code}. DB::Exception: {message}. ({name})")
        self.code = code


@dataclass
class Reply:
    body: bytes
    fmt: str | None
    summary: dict[str, str]
    timezone: str


@dataclass
class Engine:
    """One chdb session behind a lock; applies each request's database and settings."""

    data_dir: Path
    user: str = "default"
    password: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _busy_sessions: set[str] = field(default_factory=set)
    _sessions_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        from chdb import session

        self._s = session.Session(str(self.data_dir / "chdb"))
        self.version = self._one("SELECT version()")
        self.timezone = self._one("SELECT timezone()")

    def close(self) -> None:
        with self._lock:
            self._s.close()

    def _one(self, sql: str) -> str:
        """The result as raw tab-separated text (no escaping: types hold quotes)."""
        return self._s.query(sql, "TabSeparatedRaw").bytes().decode().rstrip("\n")

    def check_user(self, user: str, password: str) -> None:
        if user != self.user or password != self.password:
            raise HarnessError(
                516,
                "AUTHENTICATION_FAILED",
                f"{user}: Authentication failed: password is incorrect, or there is no user "
                "with such name",
            )

    @contextlib.contextmanager
    def session(self, session_id: str | None) -> Iterator[None]:
        """ClickHouse refuses a second query in a session that is still running one."""
        if not session_id:
            yield
            return
        with self._sessions_lock:
            if session_id in self._busy_sessions:
                raise HarnessError(
                    373,
                    "SESSION_IS_LOCKED",
                    f"Session {session_id} is locked by a concurrent client",
                )
            self._busy_sessions.add(session_id)
        try:
            yield
        finally:
            with self._sessions_lock:
                self._busy_sessions.discard(session_id)

    def execute(
        self, sql: bytes, params: dict[str, str], settings: dict[str, str], read_only: bool
    ) -> Reply:
        default_format = params.get("default_format") or "TabSeparated"
        query_params = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        with self._lock:
            self._use(params.get("database") or "default")
            saved = self._apply(settings)
            try:
                return self._run(sql, default_format, query_params, read_only)
            finally:
                self._restore(saved)

    def _use(self, database: str) -> None:
        exists = self._one(f"SELECT count() FROM system.databases WHERE name = {_lit(database)}")
        if exists == "0":
            raise HarnessError(81, "UNKNOWN_DATABASE", f"Database {database} does not exist")
        self._s.query(f"USE {_ident(database)}")

    def _apply(self, settings: dict[str, str]) -> dict[str, str]:
        if not settings:
            return {}
        names = ", ".join(_lit(n) for n in settings)
        rows = self._one(f"SELECT name, value FROM system.settings WHERE name IN ({names})")
        saved = dict(line.split("\t", 1) for line in rows.splitlines() if line)
        applied: dict[str, str] = {}
        try:
            for name, value in settings.items():
                if name not in saved:
                    raise HarnessError(115, "UNKNOWN_SETTING", f"Unknown setting '{name}'")
                self._s.query(f"SET {_ident(name)} = {_lit(value)}")
                applied[name] = saved[name]
        except BaseException:
            self._restore(applied)
            raise
        return applied

    def _restore(self, saved: dict[str, str]) -> None:
        for name, value in saved.items():
            self._s.query(f"SET {_ident(name)} = {_lit(value)}")

    def _run(
        self, sql: bytes, default_format: str, query_params: dict[str, str], read_only: bool
    ) -> Reply:
        m = _INSERT_DATA.match(sql[:65536])
        if m:
            if read_only:
                raise HarnessError(164, "READONLY", "Cannot execute query in readonly mode")
            result = self._insert_data(
                m["target"].decode(), m["fmt"].decode(), sql[m.end() :], query_params
            )
            return Reply(b"", None, _summary(result), self.timezone)
        text = sql.decode()
        if read_only and not _READ_ONLY_STATEMENT.match(text):
            raise HarnessError(164, "READONLY", "Cannot execute query in readonly mode")
        result = self._s.query(text, default_format, params=query_params or None)
        fmt = None
        if _RESULT_STATEMENT.match(text):
            trailing = _TRAILING_FORMAT.search(text)
            fmt = trailing.group(1) if trailing else default_format
        return Reply(result.bytes(), fmt, _summary(result), self.timezone)

    def _insert_data(self, target: str, fmt: str, data: bytes, query_params: dict[str, str]) -> Any:
        """Let ClickHouse's input format read the body with the table's column types."""
        t = _TARGET.fullmatch(target)
        if not t:
            raise HarnessError(62, "SYNTAX_ERROR", f"Cannot parse insert target {target!r}")
        table = t["table"]
        described = self._one(f"DESCRIBE TABLE {table}")
        types = {}
        insertable = []
        for line in described.splitlines():
            name, type_, default_kind = line.split("\t")[:3]
            types[name] = type_
            if default_kind not in ("MATERIALIZED", "ALIAS", "EPHEMERAL"):
                insertable.append(name)
        cols = [_unquote(c) for c in t["cols"].split(",")] if t["cols"] else insertable
        unknown = [c for c in cols if c not in types]
        if unknown:
            raise HarnessError(16, "NO_SUCH_COLUMN_IN_TABLE", f"No such column {unknown[0]}")
        structure = ", ".join(f"{_ident(c)} {types[c]}" for c in cols)
        fd, path = tempfile.mkstemp(dir=self.data_dir, suffix=".in")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            col_list = ", ".join(_ident(c) for c in cols)
            return self._s.query(
                f"INSERT INTO {table} ({col_list}) SELECT * FROM "
                f"file({_lit(path)}, {_lit(fmt)}, {_lit(structure)})",
                "TabSeparated",
                params=query_params or None,
            )
        finally:
            os.unlink(path)


def _lit(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ident(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _unquote(name: str) -> str:
    name = name.strip()
    if len(name) > 1 and name[0] == name[-1] and name[0] in '`"':
        return name[1:-1].replace("\\" + name[0], name[0]).replace("\\\\", "\\")
    return name


def _summary(result: Any) -> dict[str, str]:
    """ClickHouse's X-ClickHouse-Summary fields, as strings the way the server sends them."""
    return {
        "read_rows": str(result.rows_read()),
        "read_bytes": str(result.bytes_read()),
        "written_rows": str(result.rows_written()),
        "written_bytes": str(result.bytes_written()),
        "total_rows_to_read": str(result.rows_read()),
        "result_rows": "0",
        "result_bytes": str(len(result.bytes())),
        "elapsed_ns": str(int(result.elapsed() * 1e9)),
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the tests' output is the client's view

    def do_GET(self) -> None:
        self._handle(read_only=True)

    def do_POST(self) -> None:
        self._handle(read_only=False)

    def _handle(self, read_only: bool) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        query_id = params.get("query_id") or str(uuid.uuid4())
        engine = self.server.engine
        try:
            body = self._body()
            if url.path.rstrip("/") == "/ping" or (url.path == "/" and not params and not body):
                self._send(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
                return
            if url.path != "/":
                raise HarnessError(48, "NOT_IMPLEMENTED", f"No handler for {url.path}")
            engine.check_user(*self._credentials(params))
            if params.get("decompress") in ("1", "true"):
                raise HarnessError(48, "NOT_IMPLEMENTED", "decompress=1 bodies (test harness)")
            if self.headers.get_content_type().startswith("multipart/"):
                raise HarnessError(48, "NOT_IMPLEMENTED", "external data tables (test harness)")
            query = params.get("query", "").encode()
            sql = query + b"\n" + body if query and body else query or body
            if not sql.strip():
                raise HarnessError(62, "SYNTAX_ERROR", "Empty query")
            settings = {
                k: v
                for k, v in params.items()
                if k not in _TRANSPORT and not k.startswith("param_")
            }
            with engine.session(params.get("session_id")):
                reply = engine.execute(sql, params, settings, read_only)
        except Exception as ex:
            self._send_error(ex, query_id)
            return
        headers = {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": reply.timezone,
            "X-ClickHouse-Summary": json.dumps(reply.summary),
            "Content-Type": _CONTENT_TYPE.get(reply.fmt or "", "application/octet-stream"),
        }
        if reply.fmt:
            headers["X-ClickHouse-Format"] = reply.fmt
        payload = reply.body
        if settings.get("enable_http_compression") in ("1", "true"):
            accept = self.headers.get("Accept-Encoding", "")
            offered = {e.strip().split(";")[0] for e in accept.split(",")}
            if "gzip" in offered:
                payload, headers["Content-Encoding"] = gzip.compress(payload, 1), "gzip"
            elif "deflate" in offered:
                payload, headers["Content-Encoding"] = zlib.compress(payload, 1), "deflate"
        self._send(200, payload, headers)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            data = b"".join(parts)
        else:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        if encoding == "gzip":
            return gzip.decompress(data)
        if encoding == "deflate":
            return zlib.decompress(data)
        if encoding not in ("", "identity"):
            raise HarnessError(48, "NOT_IMPLEMENTED", f"Content-Encoding {encoding} (harness)")
        return data

    def _credentials(self, params: dict[str, str]) -> tuple[str, str]:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return user, password
        user = self.headers.get("X-ClickHouse-User") or params.get("user") or "default"
        return user, self.headers.get("X-ClickHouse-Key") or params.get("password") or ""

    def _send_error(self, ex: Exception, query_id: str) -> None:
        text = str(ex)
        m = _CODE.search(text)
        code = int(m.group(1)) if m else 1001  # STD_EXCEPTION
        if not m:
            text = f"Code: 1001. DB::Exception: {type(ex).__name__}: {text}. (STD_EXCEPTION)"
        body = f"{text} (version {self.server.engine.version})\n".encode()
        headers = {
            "X-ClickHouse-Exception-Code": str(code),
            "X-ClickHouse-Query-Id": query_id,
            "Content-Type": "text/plain; charset=UTF-8",
        }
        self._send(_STATUS.get(code, 500), body, headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("X-ClickHouse-Server-Display-Name", socket.gethostname())
        self.send_header("Keep-Alive", "timeout=10")
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], engine: Engine) -> None:
        super().__init__(address, _Handler)
        self.engine = engine


def serve(host: str, port: int, data_dir: Path, user: str, password: str) -> None:
    """Serve until stdin closes (the parent went away) and print the URL when ready."""
    server = _Server((host, port), Engine(data_dir, user, password))
    print(f"listening http://{host}:{server.server_address[1]}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # EOF when the test process closes the pipe or exits
    server.shutdown()
    server.engine.close()


@dataclass
class Running:
    url: str
    host: str
    port: int
    process: subprocess.Popen[str]


@contextlib.contextmanager
def spawn(
    data_dir: Path, *, user: str = "default", password: str = "", timezone: str = "UTC"
) -> Iterator[Running]:
    """Run the harness in its own process (its own chdb) on a free loopback port."""
    env = {**os.environ, "TZ": timezone}
    args = ["--data-dir", str(data_dir), "--user", user, "--password", password]
    log = data_dir / "harness.log"  # chdb's own messages; shown if the start fails
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, __file__, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until ready; empty if the process died
        if not line.startswith("listening "):
            code = proc.wait()
            tail = log.read_text()[-2000:]
            raise RuntimeError(f"ClickHouse HTTP harness failed to start (exit {code}):\n{tail}")
        url = line.split()[1]
        parts = urlsplit(url)
        yield Running(url, parts.hostname or "127.0.0.1", parts.port or 0, proc)
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--user", default="default")
    p.add_argument("--password", default="")
    a = p.parse_args()
    serve(a.host, a.port, a.data_dir, a.user, a.password)


if __name__ == "__main__":
    main()

"""What the fault tests run and break: the deployed web server as a process of its own, a TCP proxy
in front of PostgreSQL that can cut and refuse connections, and annotators as HTTP clients."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
READY_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(*, port: int | None = None) -> str:
    """The URL of pytest-django's test database (through `port` when given: the proxy)."""
    database = connection.settings_dict
    password = database.get("PASSWORD") or ""
    credentials = f"{database.get('USER') or ''}{':' + password if password else ''}"
    host = database.get("HOST") or "127.0.0.1"
    return f"postgres://{credentials}@{host}:{port or database.get('PORT') or 5432}/{database['NAME']}"


def wait_for(predicate, *, timeout: float, interval: float = 0.2, message: str = "condition", context=None):
    """Polls `predicate` until it returns something truthy; fails the test after `timeout` s
    (with what `context()` says, when given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout} s waiting for {message}." + (f"\n{context()}" if context else ""))


class AsgiServer:
    """`gunicorn config.asgi --worker-class uvicorn_worker.UvicornWorker`, as docker-compose runs it
    (the annotate loop's hot requests by one SQL function call on the front's asyncpg pool), in a
    process group of its own so a test can SIGKILL master and workers at once."""

    def __init__(self, *, port: int, database_url: str, log_path: Path, workers: int = 1):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = Path(log_path)
        self.argv = [str(Path(sys.executable).parent / "gunicorn"), "config.asgi",
                     "--worker-class", "uvicorn_worker.UvicornWorker", "--bind", f"127.0.0.1:{port}",
                     "--workers", str(workers), "--graceful-timeout", "5", "--timeout", "120"]
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
        }
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> "AsgiServer":
        self.starts += 1
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as log:
            log.write(f"\n--- start {self.starts} ---\n")
            self.process = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(self.url + "/api/health/", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"The web server did not come up at {self.url}:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL master and workers: no graceful shutdown, in-flight requests are cut."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class TcpProxy:
    """A TCP proxy to PostgreSQL on its own event loop thread. `cut()` resets every connection
    through it and refuses new ones (accepted, then reset at once) until `restore()`: to the web
    server, the database went away as in a restart, while the shared PostgreSQL server and every
    other client of it are untouched."""

    def __init__(self, *, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.refusing = False
        self.connections_cut = 0
        self._transports: set[asyncio.Transport] = set()
        self._loop = asyncio.new_event_loop()
        self._server = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> "TcpProxy":
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", self.port), self._loop).result(10)
        return self

    def cut(self) -> None:
        asyncio.run_coroutine_threadsafe(self._cut(), self._loop).result(10)

    def restore(self) -> None:
        self.refusing = False

    def stop(self) -> None:
        async def close():
            self._server.close()
            await self._cut()
        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _cut(self) -> None:
        self.refusing = True
        for transport in list(self._transports):
            transport.abort()  # RST: PostgreSQL's backend sees the client vanish and rolls back
            self.connections_cut += 1
        self._transports.clear()

    async def _accept(self, reader, writer):
        if self.refusing:
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = {writer.transport, upstream_writer.transport}
        self._transports |= pair
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))
        self._transports -= pair

    @staticmethod
    async def _pipe(reader, writer):
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

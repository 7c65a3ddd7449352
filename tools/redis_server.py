"""A throwaway redis-server (Debian's `redis-server`, `make test` installs it) on a free loopback port, without
persistence; restartable on the same port, empty — what a lost Redis looks like. For tests and tools/scaleout.py.

    server = RedisServer().start(); server.url(2) …; server.stop()
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def installed() -> bool:
    return shutil.which("redis-server") is not None


class RedisServer:
    def __init__(self, log_path: Optional[Path] = None) -> None:
        self.port = _free_port()
        self.log_path = log_path
        self.proc: Optional[subprocess.Popen] = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 10) -> "RedisServer":
        out = subprocess.DEVNULL
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            out = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                          "--save", "", "--appendonly", "no"],
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.1)

    def stop(self) -> None:
        """SIGKILL (no persistence: nothing to save) and wait."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> float:
        """Kill and start again on the same port, empty; returns the seconds it took."""
        started = time.monotonic()
        self.stop()
        self.start()
        return time.monotonic() - started

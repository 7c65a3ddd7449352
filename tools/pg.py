"""A throwaway PostgreSQL server for tests: initdb in a temporary directory, on a free loopback port.

    with temporary_postgres() as url: ...     # postgresql://postgres@127.0.0.1:<port>/postgres

Uses the server binaries of Debian's `postgresql` package (`make test` installs it). PostgreSQL refuses
to run as root, so as root the server runs as the `postgres` user that the package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, List


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL server binaries not found: install Debian's `postgresql` (make test does)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def temporary_postgres() -> Iterator[str]:
    bindir = _bindir()
    as_user: List[str] = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="pg-test-"))
    data = base / "data"
    data.mkdir()
    if as_user:
        shutil.chown(base, "postgres")
        shutil.chown(data, "postgres")
    port = _free_port()
    run = dict(check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        subprocess.run(as_user + [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                  "--no-sync", "-E", "UTF8", "--locale", "C"], **run)
        options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-t", "60",
                                  "-l", str(data / "server.log"), "start"], **run)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(base, ignore_errors=True)

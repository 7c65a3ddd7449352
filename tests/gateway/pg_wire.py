"""A counting TCP proxy in front of a real PostgreSQL: how many round trips the gateway makes, and which statements.

    with WireCounter("127.0.0.1", 5432) as wire:      # connect to wire.host:wire.port instead
        ...
        wire.reset(); do_a_turn(); wire.round_trips, wire.statements

A round trip is counted each time the server answers after the client has sent something since the server last
answered: what the client waits for, whatever the driver or SQLAlchemy does (a pre-ping, an implicit BEGIN, a
COMMIT, a pipeline of several statements). ``statements`` lists the SQL the client sent (simple and extended
protocol), so a failing count says what changed. Only for measurements: it adds a hop to every byte.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
from typing import Dict, List


class WireCounter:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.host = "127.0.0.1"
        self._listener = socket.create_server((self.host, 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self.round_trips = 0
        self.statements: List[str] = []
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> "WireCounter":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stopping = True
        self._listener.close()

    def reset(self) -> None:
        with self._lock:
            self.round_trips = 0
            self.statements = []

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()

    def _pipe(self, client: socket.socket, server: socket.socket) -> None:
        asked = False  # the client sent something the server has not answered yet
        parser = _Messages()
        try:
            while True:
                readable, _, _ = select.select([client, server], [], [])
                if client in readable:
                    data = client.recv(65536)
                    if not data:
                        return
                    asked = True
                    found = parser.feed(data)
                    if found:
                        with self._lock:
                            self.statements.extend(found)
                    server.sendall(data)
                if server in readable:
                    data = server.recv(65536)
                    if not data:
                        return
                    if asked:  # counted before the client has the answer (and the caller reads the count)
                        asked = False
                        with self._lock:
                            self.round_trips += 1
                    client.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            server.close()


class _Messages:
    """The client's side of the protocol: the SQL of each statement run, by a simple Query ('Q') or a Bind ('B') of
    a parsed statement (psycopg prepares a statement run often and then sends only its name)."""

    def __init__(self) -> None:
        self.parsed: Dict[bytes, str] = {}
        self.buffer = b""
        self.started = False  # the first messages (SSLRequest, StartupMessage) have no type byte

    def feed(self, data: bytes) -> List[str]:
        self.buffer += data
        found = []
        while True:
            if not self.started:
                if len(self.buffer) < 4:
                    return found
                length = struct.unpack("!I", self.buffer[:4])[0]
                if len(self.buffer) < length:
                    return found
                code = struct.unpack("!I", self.buffer[4:8])[0] if length >= 8 else 0
                self.buffer = self.buffer[length:]
                self.started = code not in (80877103, 80877104)  # SSLRequest, GSSENCRequest come before the startup
                continue
            if len(self.buffer) < 5:
                return found
            kind, length = self.buffer[:1], struct.unpack("!I", self.buffer[1:5])[0]
            if len(self.buffer) < 1 + length:
                return found
            body, self.buffer = self.buffer[5:1 + length], self.buffer[1 + length:]
            if kind == b"Q":
                found.append(body.rstrip(b"\0").decode("utf-8", "replace"))
            elif kind == b"P":  # name \0 query \0 …
                name, query, _ = body.split(b"\0", 2)
                self.parsed[name] = query.decode("utf-8", "replace")
            elif kind == b"B":  # portal \0 statement \0 …
                found.append(self.parsed.get(body.split(b"\0", 2)[1], "?"))

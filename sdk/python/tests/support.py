"""Test support: a fake control-plane endpoint and context builders.

The fake speaks the platform's side of the control plane (docs/PROTOCOL.md):
one JSON object per line in, one reply line out. It records every message
with the id of the connection it came on, so tests can see reconnects, and
it can misbehave on purpose (drop the first message without replying, leave
the first message unanswered on an open connection, close after every reply).
"""

from __future__ import annotations

import json
import queue
import socket
import socketserver
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Sequence, Tuple

SDK_DIR = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = SDK_DIR / "examples"
if str(SDK_DIR) not in sys.path:
    sys.path.insert(0, str(SDK_DIR))

import gamestore_sdk as sdk  # noqa: E402  (needs the path above)

ROOM_ID = 7
MATCH_ID = "m-20240101-abcdef"
REPORT_TOKEN = "rt-0123456789abcdef0123456789abcdef"
CLIENT_TOKEN = "ct-fedcba9876543210fedcba9876543210"
PLAYERS: Tuple[str, ...] = ("alice", "bob")


class Received(NamedTuple):
    conn_id: int
    message: Dict[str, Any]
    arrived: float  # time.monotonic() at the endpoint


class _Handler(socketserver.StreamRequestHandler):
    server: "_Server"

    def handle(self) -> None:
        fake = self.server.fake
        conn_id = fake._new_connection()
        # Bounded by the connection: readline returns b"" at EOF.
        while True:
            raw = self.rfile.readline(sdk.MAX_LINE_BYTES + 2)
            if not raw:
                return
            try:
                message = json.loads(raw)
            except ValueError:
                self.wfile.write(b'{"ok":false,"error":"bad JSON"}\n')
                continue
            drop = fake._should_drop()
            ignore = fake._should_ignore()
            fake.received.put(Received(conn_id, message, time.monotonic()))
            if drop:
                return  # close without replying: the reporter must resend
            if ignore:
                continue  # no reply, connection kept: a stuck platform
            self.wfile.write((json.dumps(fake.reply_for(message)) + "\n").encode())
            self.wfile.flush()
            if fake.close_after_reply:
                return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    fake: "FakeControlPlane"


class FakeControlPlane:
    """Control-plane endpoint on 127.0.0.1:<ephemeral>. Use as a context manager."""

    def __init__(
        self,
        *,
        room_id: int = ROOM_ID,
        match_id: str = MATCH_ID,
        report_token: str = REPORT_TOKEN,
        drop_first_message: bool = False,
        ignore_first_message: bool = False,
        close_after_reply: bool = False,
    ) -> None:
        self.room_id = room_id
        self.match_id = match_id
        self.report_token = report_token
        self.close_after_reply = close_after_reply
        self.received: "queue.Queue[Received]" = queue.Queue()
        self._drops_left = 1 if drop_first_message else 0
        self._ignores_left = 1 if ignore_first_message else 0
        self._lock = threading.Lock()
        self._connections = 0
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    def _new_connection(self) -> int:
        with self._lock:
            self._connections += 1
            return self._connections

    def _should_drop(self) -> bool:
        with self._lock:
            if self._drops_left > 0:
                self._drops_left -= 1
                return True
            return False

    def _should_ignore(self) -> bool:
        with self._lock:
            if self._ignores_left > 0:
                self._ignores_left -= 1
                return True
            return False

    def reply_for(self, message: Any) -> Dict[str, Any]:
        """What the platform would answer (authenticity checks only)."""
        if not isinstance(message, dict):
            return {"ok": False, "error": "a report must be a JSON object"}
        if message.get("report_token") != self.report_token:
            return {"ok": False, "error": "report_token does not match this room"}
        if message.get("match_id") != self.match_id:
            return {"ok": False, "error": "match_id is stale"}
        if message.get("room_id") != self.room_id:
            return {"ok": False, "error": "unknown room"}
        if message.get("status") not in ("STARTED", "HEARTBEAT", "END", "ERROR"):
            return {"ok": False, "error": "unknown status"}
        return {"ok": True}

    def next(self, timeout: float = 10.0) -> Received:
        try:
            return self.received.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no control-plane message within {timeout} s") from None

    def wait_for(self, status: str, timeout: float = 10.0) -> Tuple[Received, List[Received]]:
        """The next message with ``status`` and the ones received before it."""
        deadline = time.monotonic() + timeout
        skipped: List[Received] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [item.message.get("status") for item in skipped]
                raise AssertionError(f"no {status} within {timeout} s; received {seen}")
            item = self.next(remaining)
            if item.message.get("status") == status:
                return item, skipped
            skipped.append(item)

    def drain(self) -> List[Received]:
        items: List[Received] = []
        while True:
            try:
                items.append(self.received.get_nowait())
            except queue.Empty:
                return items

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)

    def __enter__(self) -> "FakeControlPlane":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def server_context(
    report_port: int,
    *,
    players: Sequence[str] = PLAYERS,
    report_token: str = REPORT_TOKEN,
    heartbeat_interval_sec: float = 5.0,
    port: int = 40000,
) -> sdk.ServerContext:
    return sdk.ServerContext(
        room_id=ROOM_ID,
        match_id=MATCH_ID,
        port=port,
        players=tuple(players),
        report_port=report_port,
        report_token=report_token,
        client_token=CLIENT_TOKEN,
        bind_host="127.0.0.1",
        report_host="127.0.0.1",
        heartbeat_interval_sec=heartbeat_interval_sec,
    )


def client_context(port: int, *, player_name: str = "alice", **changes: Any) -> sdk.ClientContext:
    fields: Dict[str, Any] = dict(
        room_id=ROOM_ID,
        match_id=MATCH_ID,
        host="127.0.0.1",
        port=port,
        player_name=player_name,
        client_token=CLIENT_TOKEN,
    )
    fields.update(changes)
    return sdk.ClientContext(**fields)


def unused_port() -> int:
    """A port nothing listens on right now (connecting to it is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def handshake_line(**changes: Any) -> bytes:
    message: Dict[str, Any] = {
        "room_id": ROOM_ID,
        "match_id": MATCH_ID,
        "player_name": "alice",
        "client_token": CLIENT_TOKEN,
        "client_protocol_version": 1,
    }
    for key, value in changes.items():
        if value is _DELETE:
            message.pop(key, None)
        else:
            message[key] = value
    return json.dumps(message).encode()


_DELETE = object()
DELETE = _DELETE  # handshake_line(client_token=DELETE) drops the field

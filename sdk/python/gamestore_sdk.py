"""gamestore game-side SDK for Python (protocol v1).

One file, standard library only, Python 3.9+. Copy it next to your game's
``server.py`` / ``client.py`` and ``import gamestore_sdk``.

What it gives a game:

* :class:`ServerContext` / :class:`ClientContext` -- the launch environment the
  platform (server) or the player's launcher (client) sets, read and checked in
  one call. Every missing or malformed variable is named in one
  :class:`LaunchContextError`.
* :class:`Reporter` -- the control-plane client (game server -> platform):
  ``STARTED``, automatic ``HEARTBEAT`` s, ``END`` with validated results,
  ``ERROR``. One persistent NDJSON connection driven by a background thread;
  it reconnects with bounded exponential backoff and re-sends the message that
  was in flight when the platform dropped the connection.
* Handshake v1 (client <-> game server): :func:`connect_and_handshake` for the
  client; :class:`HandshakeValidator` and :func:`accept_handshake` for the
  server; :class:`LineConnection` for NDJSON over a socket with a 64 KiB line
  limit and per-call timeouts; :func:`serve_game_socket` to bind
  ``BIND_HOST:PORT``.

Tokens are secrets: this module never logs them except through
:func:`redact`, and contexts print them redacted. Never pass them in argv.

Wire formats are specified in docs/PROTOCOL.md; the environment contract in
docs/SDK.md.
"""

from __future__ import annotations

import collections
import dataclasses
import hmac
import json
import logging
import math
import os
import random
import selectors
import signal
import socket
import stat
import threading
import time
from typing import (
    Any,
    Deque,
    Dict,
    FrozenSet,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

__all__ = [
    "PROTOCOL_VERSION",
    "MAX_LINE_BYTES",
    "OUTCOMES",
    "DEFAULT_HEARTBEAT_INTERVAL_SEC",
    "SIGNAL_CHECK_SEC",
    "GamestoreSdkError",
    "LaunchContextError",
    "ProtocolError",
    "LineTooLongError",
    "ConnectionClosedError",
    "HandshakeError",
    "redact",
    "shield_thread_from_signals",
    "start_thread",
    "ServerContext",
    "ClientContext",
    "PlayerResult",
    "normalize_results",
    "Reporter",
    "LineConnection",
    "build_handshake",
    "connect_and_handshake",
    "HandshakeResult",
    "HandshakeValidator",
    "accept_handshake",
    "serve_game_socket",
]

#: Version of the control-plane protocol and of the client handshake this SDK speaks.
PROTOCOL_VERSION = 1
#: Longest NDJSON line (payload bytes, without the ``\n``) either side accepts.
MAX_LINE_BYTES = 64 * 1024
#: Allowed values of a result's ``outcome``.
OUTCOMES: FrozenSet[str] = frozenset({"WIN", "LOSE", "DRAW", "QUIT", "ERROR"})
#: Used when HEARTBEAT_INTERVAL_SEC is not set (manifest default).
DEFAULT_HEARTBEAT_INTERVAL_SEC = 5.0
#: Longest single block of any SDK wait. CPython runs a signal handler only
#: when the main thread is between bytecodes; a signal that lands just before
#: the main thread enters a lock or select() wait is handled only when that
#: wait returns. Waking at least this often bounds how long a SIGTERM handler
#: can be held up by an SDK call, whatever the call's own timeout.
SIGNAL_CHECK_SEC = 0.5

_log = logging.getLogger("gamestore_sdk")

JsonObject = Dict[str, Any]


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class GamestoreSdkError(Exception):
    """Base class of every error this module raises on its own."""


class LaunchContextError(GamestoreSdkError):
    """The launch environment is incomplete or malformed.

    ``missing`` lists the absent variables (``"REPORT_TOKEN (or
    REPORT_TOKEN_PATH)"`` when either would do); ``invalid`` lists one
    sentence per variable that is present but unusable.
    """

    def __init__(self, role: str, missing: Sequence[str], invalid: Sequence[str]) -> None:
        self.role = role
        self.missing: List[str] = list(missing)
        self.invalid: List[str] = list(invalid)
        parts = []
        if self.missing:
            parts.append("missing " + ", ".join(self.missing))
        if self.invalid:
            parts.append("invalid " + "; ".join(self.invalid))
        super().__init__(
            f"{role} launch environment is not usable: {'; '.join(parts)}. "
            "The platform sets these variables when it starts the game; to run it "
            "by hand, export them (see docs/SDK.md)."
        )


class ProtocolError(GamestoreSdkError, ValueError):
    """A peer sent something that is not a valid protocol message."""


class LineTooLongError(ProtocolError):
    """A line exceeds :data:`MAX_LINE_BYTES`; the connection should be closed."""


class ConnectionClosedError(GamestoreSdkError, ConnectionError):
    """The peer closed the connection (possibly in the middle of a line)."""


class HandshakeError(GamestoreSdkError):
    """The game server refused the handshake, or answered something invalid.

    ``reason`` is the server's sentence (or ours, for a malformed reply).
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"handshake refused: {reason}")


# --------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------


def redact(token: Optional[str]) -> str:
    """Return a loggable form of a secret: its first 6 characters and ``…``.

    A token of 6 characters or fewer becomes as many ``*`` (as the C++ SDK
    does), so a short token is never printed whole.
    """
    if not token:
        return ""
    if len(token) <= 6:
        return "*" * len(token)
    return token[:6] + "…"


# Asynchronous signals a game typically handles (SIGTERM from the platform,
# SIGINT from a developer's terminal, ...). Only those this OS defines.
_SHIELDED_SIGNALS = frozenset(
    getattr(signal, name)
    for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD")
    if hasattr(signal, name)
)


def shield_thread_from_signals() -> None:
    """Block asynchronous signals (SIGTERM, SIGINT, ...) in the calling thread.

    Python runs signal handlers in the main thread only, but the kernel
    delivers a process signal to *any* thread that does not block it; if it
    picks a background thread, a main thread blocked in ``queue.get()``,
    ``Thread.join()`` or ``select()`` is not woken and the handler runs only
    when that wait ends on its own. Blocking the signals in every other
    thread makes the kernel interrupt the main thread. (Keep the main
    thread's own waits short too -- see :data:`SIGNAL_CHECK_SEC`.)

    Use it as a thread pool's initializer
    (``ThreadPoolExecutor(initializer=shield_thread_from_signals)``) or first
    thing in a thread; prefer :func:`start_thread`, which leaves no window.
    Threads inherit the mask, so threads started from a shielded thread are
    shielded too. No-op where ``pthread_sigmask`` does not exist (Windows)
    and in the main thread.
    """
    if hasattr(signal, "pthread_sigmask") and threading.current_thread() is not threading.main_thread():
        signal.pthread_sigmask(signal.SIG_BLOCK, _SHIELDED_SIGNALS)


def start_thread(target: Any, *args: Any, name: Optional[str] = None, daemon: bool = True) -> threading.Thread:
    """Start a thread running ``target(*args)`` that never receives
    asynchronous signals (see :func:`shield_thread_from_signals`).

    The signals are blocked in the caller while the thread is created, so the
    new thread inherits the mask from its first instruction; the caller's
    mask is restored right after (a signal arriving meanwhile stays pending
    and is delivered then, not lost). The :class:`Reporter` uses this.
    """
    thread = threading.Thread(target=target, args=args, name=name, daemon=daemon)
    if not hasattr(signal, "pthread_sigmask"):
        thread.start()
        return thread
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SHIELDED_SIGNALS)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return thread


def _short(text: str, limit: int = 64) -> str:
    """Quote an untrusted string for an error sentence, truncated."""
    if len(text) > limit:
        text = text[:limit] + "…"
    return repr(text)


# --------------------------------------------------------------------------
# Launch environment
# --------------------------------------------------------------------------


class _EnvReader:
    """Reads typed values from the environment (or keyword overrides),
    collecting every problem instead of stopping at the first one, so a
    developer fixes the whole environment in one round trip."""

    def __init__(self, env: Mapping[str, str], overrides: Mapping[str, Any]) -> None:
        self.env = env
        self.overrides = overrides
        self.missing: List[str] = []
        self.invalid: List[str] = []

    def _raw(self, field: str, var: str) -> Tuple[Any, str]:
        """Override (if not None) else the env value (None when absent or blank)."""
        if self.overrides.get(field) is not None:
            return self.overrides[field], f"{field}="
        value = self.env.get(var)
        if value is None or value.strip() == "":
            return None, var
        return value, var

    def string(self, field: str, var: str, default: Optional[str] = None) -> str:
        value, origin = self._raw(field, var)
        if value is None:
            if default is not None:
                return default
            self.missing.append(var)
            return ""
        if not isinstance(value, str):
            self.invalid.append(f"{origin.rstrip('=')}: must be a string")
            return ""
        return value.strip()

    def optional_string(self, field: str, var: str) -> Optional[str]:
        value, _ = self._raw(field, var)
        return None if value is None else str(value).strip()

    def integer(
        self,
        field: str,
        var: str,
        *,
        default: Optional[int] = None,
        minimum: Optional[int] = None,
        maximum: Optional[int] = None,
    ) -> int:
        value, origin = self._raw(field, var)
        name = origin.rstrip("=")
        if value is None:
            if default is not None:
                return default
            self.missing.append(var)
            return 0
        if isinstance(value, bool):
            self.invalid.append(f"{name}: must be an integer")
            return 0
        if isinstance(value, int):
            number = value
        else:
            try:
                number = int(str(value).strip(), 10)
            except ValueError:
                self.invalid.append(f"{name}: {_short(str(value))} is not an integer")
                return 0
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            self.invalid.append(f"{name}: {number} is out of range (must be {bounds})")
            return 0
        return number

    def positive_number(self, field: str, var: str, default: float) -> float:
        value, origin = self._raw(field, var)
        name = origin.rstrip("=")
        if value is None:
            return default
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
        except (TypeError, ValueError):
            self.invalid.append(f"{name}: {_short(str(value))} is not a number")
            return default
        if not math.isfinite(number) or number <= 0:
            self.invalid.append(f"{name}: {_short(str(value))} must be a positive number of seconds")
            return default
        return number

    def token(self, field: str, var: str, path_var: str) -> str:
        """The token from ``var`` or, if unset, from the file named by
        ``path_var`` (whitespace stripped). The value is never echoed."""
        value, origin = self._raw(field, var)
        if value is not None:
            if not isinstance(value, str) or value.strip() == "":
                self.invalid.append(f"{origin.rstrip('=')}: must be a non-empty string")
                return ""
            return value.strip()
        path = self.env.get(path_var, "").strip()
        if not path:
            self.missing.append(f"{var} (or {path_var})")
            return ""
        text = self._read_file(path_var, path)
        if text is None:
            return ""
        token = text.strip()
        if not token:
            self.invalid.append(f"{path_var}: file {_short(path, 200)} is empty")
            return ""
        return token

    def _read_file(self, var: str, path: str) -> Optional[str]:
        try:
            with open(path, "r", encoding="utf-8") as handle:
                mode = os.fstat(handle.fileno()).st_mode
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.invalid.append(f"{var}: cannot read {_short(path, 200)} ({reason})")
            return None
        if os.name == "posix" and var.endswith("TOKEN_PATH") and mode & (stat.S_IRWXG | stat.S_IRWXO):
            # The platform creates token files 0600; wider permissions mean
            # someone copied them around. Worth a warning, not a refusal.
            _log.warning("%s (%s) is readable by other users; token files should be mode 0600", var, path)
        return text

    def players(self) -> Tuple[str, ...]:
        """Players in order: PLAYERS_JSON_PATH, else PLAYERS_JSON, else PLAYERS_CSV
        (docs/MANIFEST.md "Environment variables": the file avoids any quoting
        problem)."""
        override = self.overrides.get("players")
        if override is not None:
            if isinstance(override, str) or not isinstance(override, Sequence):
                self.invalid.append("players=: must be a sequence of player names")
                return ()
            return self._check_players("players=", list(override))
        path = self.env.get("PLAYERS_JSON_PATH", "").strip()
        if path:
            text = self._read_file("PLAYERS_JSON_PATH", path)
            if text is None:
                return ()
            return self._parse_players_json("PLAYERS_JSON_PATH", text)
        text = self.env.get("PLAYERS_JSON", "").strip()
        if text:
            return self._parse_players_json("PLAYERS_JSON", text)
        csv = self.env.get("PLAYERS_CSV", "").strip()
        if csv:
            return self._check_players("PLAYERS_CSV", [name.strip() for name in csv.split(",")])
        self.missing.append("PLAYERS_JSON_PATH (or PLAYERS_JSON)")
        return ()

    def _parse_players_json(self, var: str, text: str) -> Tuple[str, ...]:
        try:
            value = json.loads(text)
        except ValueError as exc:
            self.invalid.append(f"{var}: not valid JSON ({exc})")
            return ()
        if not isinstance(value, list):
            self.invalid.append(f"{var}: must be a JSON array of player names")
            return ()
        return self._check_players(var, value)

    def _check_players(self, var: str, names: List[Any]) -> Tuple[str, ...]:
        name = var.rstrip("=")
        if not names:
            self.invalid.append(f"{name}: the player list is empty")
            return ()
        seen: Set[str] = set()
        for entry in names:
            if not isinstance(entry, str) or entry == "":
                self.invalid.append(f"{name}: every player must be a non-empty string, got {_short(repr(entry))}")
                return ()
            if entry in seen:
                self.invalid.append(f"{name}: player {_short(entry)} appears twice")
                return ()
            seen.add(entry)
        return tuple(names)

    def raise_if_failed(self, role: str) -> None:
        if self.missing or self.invalid:
            raise LaunchContextError(role, self.missing, self.invalid)


def _check_override_names(cls: type, overrides: Mapping[str, Any]) -> None:
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise TypeError(f"{cls.__name__}.from_env() got unknown override(s): {', '.join(unknown)}")


def _check_protocol_version(version: int) -> None:
    if version > PROTOCOL_VERSION:
        _log.warning(
            "PLATFORM_PROTOCOL_VERSION=%d but this SDK speaks version %d; messages are sent as version %d",
            version,
            PROTOCOL_VERSION,
            PROTOCOL_VERSION,
        )


@dataclasses.dataclass(frozen=True, repr=False)
class ServerContext:
    """Everything a game server needs to know about its match.

    Build it with :meth:`from_env`; construct it directly only in tests.
    """

    room_id: int
    match_id: str
    port: int
    players: Tuple[str, ...]
    report_port: int
    report_token: str
    client_token: str
    bind_host: str = "0.0.0.0"
    report_host: str = "127.0.0.1"
    heartbeat_interval_sec: float = DEFAULT_HEARTBEAT_INTERVAL_SEC
    platform_protocol_version: int = PROTOCOL_VERSION
    match_dir: Optional[str] = None

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None, **overrides: Any) -> "ServerContext":
        """Read the game server's launch environment.

        ``env`` defaults to ``os.environ``. Keyword overrides (any field name,
        e.g. ``port=args.port`` from your own argv parsing) win over the
        environment; ``None`` means "not given". Do not feed tokens from argv:
        they belong in CLIENT_TOKEN/REPORT_TOKEN or the ``*_TOKEN_PATH`` files.

        Variables: ROOM_ID, MATCH_ID, PORT, REPORT_PORT (required);
        REPORT_TOKEN or REPORT_TOKEN_PATH, CLIENT_TOKEN or CLIENT_TOKEN_PATH
        (required; the variable wins over the file); PLAYERS_JSON_PATH, else
        PLAYERS_JSON, else PLAYERS_CSV (required); BIND_HOST (default
        0.0.0.0), REPORT_HOST (default 127.0.0.1), HEARTBEAT_INTERVAL_SEC
        (default 5), PLATFORM_PROTOCOL_VERSION (default 1), PLAYER_COUNT
        (checked against the list when set), MATCH_DIR (optional).

        Raises :class:`LaunchContextError` naming every problem at once.
        """
        _check_override_names(cls, overrides)
        source = os.environ if env is None else env
        reader = _EnvReader(source, overrides)
        room_id = reader.integer("room_id", "ROOM_ID", minimum=0)
        match_id = reader.string("match_id", "MATCH_ID")
        # PORT=0 asks the OS for a free port (handy when running by hand):
        # pass the bound port to Reporter.started(), since STARTED must carry it.
        port = reader.integer("port", "PORT", minimum=0, maximum=65535)
        players = reader.players()
        report_port = reader.integer("report_port", "REPORT_PORT", minimum=1, maximum=65535)
        report_token = reader.token("report_token", "REPORT_TOKEN", "REPORT_TOKEN_PATH")
        client_token = reader.token("client_token", "CLIENT_TOKEN", "CLIENT_TOKEN_PATH")
        bind_host = reader.string("bind_host", "BIND_HOST", default="0.0.0.0")
        report_host = reader.string("report_host", "REPORT_HOST", default="127.0.0.1")
        interval = reader.positive_number(
            "heartbeat_interval_sec", "HEARTBEAT_INTERVAL_SEC", DEFAULT_HEARTBEAT_INTERVAL_SEC
        )
        version = reader.integer(
            "platform_protocol_version", "PLATFORM_PROTOCOL_VERSION", default=PROTOCOL_VERSION, minimum=1
        )
        match_dir = reader.optional_string("match_dir", "MATCH_DIR")
        count_text = source.get("PLAYER_COUNT", "").strip()
        if count_text and players and overrides.get("players") is None:
            count = reader.integer("player_count", "PLAYER_COUNT", minimum=0)
            if count and count != len(players):
                reader.invalid.append(f"PLAYER_COUNT: {count} does not match the {len(players)} players listed")
        reader.raise_if_failed("game server")
        _check_protocol_version(version)
        return cls(
            room_id=room_id,
            match_id=match_id,
            port=port,
            players=players,
            report_port=report_port,
            report_token=report_token,
            client_token=client_token,
            bind_host=bind_host,
            report_host=report_host,
            heartbeat_interval_sec=interval,
            platform_protocol_version=version,
            match_dir=match_dir,
        )

    def player_index(self, name: str) -> Optional[int]:
        """Index of ``name`` in :attr:`players`, or None if not a member."""
        try:
            return self.players.index(name)
        except ValueError:
            return None

    def __repr__(self) -> str:
        return (
            f"ServerContext(room_id={self.room_id}, match_id={self.match_id!r}, port={self.port}, "
            f"bind_host={self.bind_host!r}, report={self.report_host}:{self.report_port}, "
            f"players={list(self.players)!r}, report_token={redact(self.report_token)!r}, "
            f"client_token={redact(self.client_token)!r}, heartbeat_interval_sec={self.heartbeat_interval_sec:g})"
        )


@dataclasses.dataclass(frozen=True, repr=False)
class ClientContext:
    """Everything a game client needs to join its match. Build it with :meth:`from_env`."""

    room_id: int
    match_id: str
    host: str
    port: int
    player_name: str
    client_token: str
    platform_protocol_version: int = PROTOCOL_VERSION
    match_dir: Optional[str] = None

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None, **overrides: Any) -> "ClientContext":
        """Read the game client's launch environment.

        Variables: ROOM_ID, MATCH_ID, HOST, PORT, PLAYER_NAME (required);
        CLIENT_TOKEN or CLIENT_TOKEN_PATH (required; the variable wins);
        PLATFORM_PROTOCOL_VERSION (default 1), MATCH_DIR (optional).
        Keyword overrides work as in :meth:`ServerContext.from_env`.
        Raises :class:`LaunchContextError` naming every problem at once.
        """
        _check_override_names(cls, overrides)
        source = os.environ if env is None else env
        reader = _EnvReader(source, overrides)
        room_id = reader.integer("room_id", "ROOM_ID", minimum=0)
        match_id = reader.string("match_id", "MATCH_ID")
        host = reader.string("host", "HOST")
        port = reader.integer("port", "PORT", minimum=1, maximum=65535)
        player_name = reader.string("player_name", "PLAYER_NAME")
        client_token = reader.token("client_token", "CLIENT_TOKEN", "CLIENT_TOKEN_PATH")
        version = reader.integer(
            "platform_protocol_version", "PLATFORM_PROTOCOL_VERSION", default=PROTOCOL_VERSION, minimum=1
        )
        match_dir = reader.optional_string("match_dir", "MATCH_DIR")
        reader.raise_if_failed("game client")
        _check_protocol_version(version)
        return cls(
            room_id=room_id,
            match_id=match_id,
            host=host,
            port=port,
            player_name=player_name,
            client_token=client_token,
            platform_protocol_version=version,
            match_dir=match_dir,
        )

    def __repr__(self) -> str:
        return (
            f"ClientContext(room_id={self.room_id}, match_id={self.match_id!r}, host={self.host!r}, "
            f"port={self.port}, player_name={self.player_name!r}, client_token={redact(self.client_token)!r})"
        )


# --------------------------------------------------------------------------
# NDJSON encoding and line connections
# --------------------------------------------------------------------------


def _encode_line(obj: Any) -> bytes:
    """One compact JSON line with its ``\\n``. Raises ValueError for values
    JSON cannot carry (NaN, sets, objects) and LineTooLongError past 64 KiB."""
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"message cannot be encoded as JSON: {exc}") from None
    data = text.encode("utf-8")
    if len(data) > MAX_LINE_BYTES:
        raise LineTooLongError(f"message is {len(data)} bytes; a line may hold at most {MAX_LINE_BYTES}")
    return data + b"\n"


def _decode_object(line: bytes, what: str) -> JsonObject:
    try:
        value = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProtocolError(f"{what} is not valid UTF-8") from None
    except ValueError as exc:
        raise ProtocolError(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


class LineConnection:
    """NDJSON over a connected TCP socket.

    Receiving is done by one thread at a time; :meth:`send_json` may be called
    from any thread (sends are serialised). Every receive takes its own
    timeout; sends use ``send_timeout``. Lines longer than ``max_line_bytes``
    raise :class:`LineTooLongError` (close the connection then: the stream
    cannot be resynchronised cheaply).
    """

    def __init__(
        self, sock: socket.socket, *, max_line_bytes: int = MAX_LINE_BYTES, send_timeout: Optional[float] = 10.0
    ) -> None:
        self._sock = sock
        self._max = max_line_bytes
        # The socket timeout only bounds sends: receives wait on the selector
        # with their own deadline and call recv() only when data is ready.
        sock.settimeout(send_timeout)
        self._selector = selectors.DefaultSelector()
        self._selector.register(sock, selectors.EVENT_READ)
        self._buffer = bytearray()
        self._scanned = 0  # bytes of _buffer already searched for b"\n"
        self._send_lock = threading.Lock()
        self._closed = False

    @classmethod
    def connect(cls, host: str, port: int, timeout: float = 10.0, **kwargs: Any) -> "LineConnection":
        """Open a TCP connection (TCP_NODELAY) and wrap it."""
        sock = socket.create_connection((host, port), timeout=timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # not every socket type has Nagle; latency is all we lose
        return cls(sock, **kwargs)

    @property
    def raw_socket(self) -> socket.socket:
        """The underlying socket (for select() loops or socket options)."""
        return self._sock

    @property
    def closed(self) -> bool:
        return self._closed

    def send_line(self, data: bytes) -> None:
        """Send one line (``\\n`` appended). Raises TimeoutError, OSError."""
        if b"\n" in data:
            raise ValueError("a line must not contain a newline")
        if len(data) > self._max:
            raise LineTooLongError(f"line is {len(data)} bytes; at most {self._max} allowed")
        self._sendall(data + b"\n")

    def send_json(self, obj: Any) -> None:
        """Send one JSON value as a line. Raises ValueError (not encodable or
        too long), TimeoutError, OSError."""
        self._sendall(_encode_line(obj))

    def _sendall(self, data: bytes) -> None:
        with self._send_lock:
            try:
                self._sock.sendall(data)
            except socket.timeout:  # an OSError, not TimeoutError, before Python 3.10
                raise TimeoutError("timed out sending a line") from None

    def recv_line(self, timeout: Optional[float] = None) -> bytes:
        """Next line without its ``\\n`` (a trailing ``\\r`` is dropped too).

        ``timeout`` in seconds, None = wait forever. Raises TimeoutError,
        :class:`ConnectionClosedError`, :class:`LineTooLongError`, OSError.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            newline = self._buffer.find(b"\n", self._scanned)
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                self._scanned = 0
                if len(line) > self._max:
                    raise LineTooLongError(f"received a line of {len(line)} bytes; at most {self._max} allowed")
                return line[:-1] if line.endswith(b"\r") else line
            self._scanned = len(self._buffer)
            if len(self._buffer) > self._max:
                raise LineTooLongError(f"received more than {self._max} bytes without a newline")
            if deadline is None:
                remaining = None
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no complete line within {timeout:g} s")
            wait = SIGNAL_CHECK_SEC if remaining is None else min(remaining, SIGNAL_CHECK_SEC)
            if not self._selector.select(wait):
                continue  # the deadline check above ends the loop
            try:
                chunk = self._sock.recv(65536)
            except (socket.timeout, BlockingIOError, InterruptedError):
                continue  # spurious readiness; wait again
            if not chunk:
                if self._buffer:
                    raise ConnectionClosedError("peer closed the connection in the middle of a line")
                raise ConnectionClosedError("peer closed the connection")
            self._buffer += chunk

    def recv_json(self, timeout: Optional[float] = None) -> JsonObject:
        """Next line parsed as a JSON object. Raises :class:`ProtocolError` for
        bad JSON or a non-object, plus everything :meth:`recv_line` raises."""
        return _decode_object(self.recv_line(timeout), "message")

    def shutdown(self) -> None:
        """Wake any thread blocked on this connection (it sees EOF or an error)."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already disconnected

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._selector.close()
        finally:
            self._sock.close()

    def __enter__(self) -> "LineConnection":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PlayerResult:
    """One entry of an END report's ``results``.

    ``player`` must be one of the match's players; ``outcome`` one of
    :data:`OUTCOMES`; ``rank`` (1 = best) and ``score`` may be None.
    """

    player: str
    outcome: str
    rank: Optional[int] = None
    score: Optional[float] = None
    player_id: Optional[int] = None
    extra: Optional[Mapping[str, Any]] = None

    def to_dict(self) -> JsonObject:
        entry: JsonObject = {"player": self.player, "outcome": self.outcome, "rank": self.rank, "score": self.score}
        if self.player_id is not None:
            entry["player_id"] = self.player_id
        if self.extra is not None:
            entry["extra"] = dict(self.extra)
        return entry


_RESULT_KEYS = frozenset({"player", "outcome", "rank", "score", "player_id", "extra"})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def normalize_results(
    results: Sequence[Union[PlayerResult, Mapping[str, Any]]], players: Sequence[str]
) -> List[JsonObject]:
    """Check END results and return them as plain dicts.

    Raises ValueError with a sentence naming the entry at fault: a player who
    is not in ``players`` or appears twice, an outcome outside
    :data:`OUTCOMES`, a rank that is not an integer, a score that is not a
    finite number, an ``extra`` that is not an object, or an unknown key
    (custom data goes under ``extra``).
    """
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence):
        raise ValueError("results must be a list of player results")
    members = set(players)
    seen: Set[str] = set()
    normalized: List[JsonObject] = []
    for index, item in enumerate(results):
        where = f"results[{index}]"
        if isinstance(item, PlayerResult):
            entry = item.to_dict()
        elif isinstance(item, Mapping):
            entry = dict(item)
        else:
            raise ValueError(f"{where} must be a PlayerResult or a dict, got {type(item).__name__}")
        unknown = sorted(str(key) for key in entry if key not in _RESULT_KEYS)
        if unknown:
            raise ValueError(f"{where} has unknown key(s) {', '.join(unknown)}; put custom data under 'extra'")
        player = entry.get("player")
        if not isinstance(player, str) or not player:
            raise ValueError(f"{where}.player must be a non-empty string")
        if player not in members:
            raise ValueError(
                f"{where}.player {_short(player)} is not a player of this match (players: {', '.join(players)})"
            )
        if player in seen:
            raise ValueError(f"{where}.player {_short(player)} already has a result")
        seen.add(player)
        outcome = entry.get("outcome")
        if outcome not in OUTCOMES:
            raise ValueError(
                f"{where}.outcome for {_short(player)} is {outcome!r}; it must be one of {', '.join(sorted(OUTCOMES))}"
            )
        rank = entry.setdefault("rank", None)
        if rank is not None and not _is_int(rank):
            raise ValueError(f"{where}.rank for {_short(player)} must be an integer or None, got {rank!r}")
        score = entry.setdefault("score", None)
        if score is not None and (
            isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score)
        ):
            raise ValueError(f"{where}.score for {_short(player)} must be a finite number or None, got {score!r}")
        if "player_id" in entry and not _is_int(entry["player_id"]):
            raise ValueError(f"{where}.player_id for {_short(player)} must be an integer")
        if "extra" in entry:
            extra = entry["extra"]
            if not isinstance(extra, Mapping) or not all(isinstance(key, str) for key in extra):
                raise ValueError(f"{where}.extra for {_short(player)} must be a dict with string keys")
            entry["extra"] = dict(extra)
        normalized.append(entry)
    return normalized


# --------------------------------------------------------------------------
# Control-plane reporter
# --------------------------------------------------------------------------

# Fields the SDK fills in; end(**extra) may not override them.
_RESERVED_REPORT_FIELDS = frozenset(
    {"type", "room_id", "report_token", "match_id", "status", "timestamp", "ts", "results", "port",
     "protocol_version", "err_msg", "game"}
)


class _Outgoing:
    """A report waiting for (or in) delivery. ``line`` is encoded once, so a
    resend after a reconnect is byte-identical."""

    __slots__ = ("status", "line")

    def __init__(self, status: str, line: bytes) -> None:
        self.status = status
        self.line = line


class Reporter:
    """Control-plane client: game server -> platform (REPORT_HOST:REPORT_PORT).

    Typical use::

        with Reporter(ctx) as reporter:
            listener = serve_game_socket(ctx)        # bound and listening
            validator = HandshakeValidator(ctx)      # ready to answer handshakes
            reporter.started()                       # now, and only now
            ...                                      # heartbeats are automatic
            reporter.end(results)
        # leaving the block flushes (bounded) and closes

    A background thread owns one persistent connection and sends queued
    messages in order, reading the platform's one-line reply to each. If the
    connection fails (refused, dropped, no reply within ``reply_timeout``) it
    reconnects after an exponential backoff (``initial_backoff`` doubling up
    to ``max_backoff``, with jitter) and re-sends the message that was in
    flight: delivery is at-least-once, in order. A reply ``{"ok":false}`` is
    final (re-sending would not change the platform's mind): it is logged and
    kept in :attr:`rejections`.

    Heartbeats start when :meth:`started` is called, every
    ``heartbeat_interval`` seconds (default: the context's
    HEARTBEAT_INTERVAL_SEC), and stop on :meth:`end`, :meth:`error`,
    :meth:`stop_heartbeats` or :meth:`close`. Heartbeats never pile up: a new
    one is made only when nothing else is waiting.

    All methods are thread-safe.
    """

    def __init__(
        self,
        ctx: ServerContext,
        *,
        game: Optional[str] = None,
        heartbeat_interval: Optional[float] = None,
        connect_timeout: float = 5.0,
        reply_timeout: float = 10.0,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
    ) -> None:
        interval = ctx.heartbeat_interval_sec if heartbeat_interval is None else heartbeat_interval
        if not (interval > 0 and math.isfinite(interval)):
            raise ValueError(f"heartbeat interval must be a positive number of seconds, got {interval!r}")
        if not (0 < initial_backoff <= max_backoff):
            raise ValueError("backoff must satisfy 0 < initial_backoff <= max_backoff")
        self._ctx = ctx
        self._game = game
        self._interval = float(interval)
        self._connect_timeout = connect_timeout
        self._reply_timeout = reply_timeout
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff

        self._cond = threading.Condition()
        # Guarded by _cond. The head of _queue is the message in flight; it is
        # removed only once the platform has replied to it.
        self._queue: Deque[_Outgoing] = collections.deque()
        self._next_heartbeat: Optional[float] = None  # monotonic; None = heartbeats off
        self._accepting = True
        self._stopping = False
        self._started_sent = False
        self._finished = False
        self._rejections: List[Tuple[str, str]] = []
        self._delivered = 0
        self._close_result: Optional[bool] = None  # set once close() has finished

        self._conn_lock = threading.Lock()  # guards _conn between worker and close()
        self._conn: Optional[LineConnection] = None

        # Shielded from signals: a SIGTERM must wake the game's main thread.
        self._thread = start_thread(self._run, name="gamestore-reporter")

    # ---- public API ------------------------------------------------------

    @property
    def heartbeat_interval(self) -> float:
        return self._interval

    @property
    def rejections(self) -> List[Tuple[str, str]]:
        """``(status, error sentence)`` for every message the platform refused."""
        with self._cond:
            return list(self._rejections)

    @property
    def delivered(self) -> int:
        """Number of messages the platform has replied to (ok or not)."""
        with self._cond:
            return self._delivered

    def started(self, port: Optional[int] = None) -> None:
        """Send STARTED and start heartbeats.

        Call it only when the server is ready: the listen socket is bound, game
        state is initialised and handshakes can be validated and answered.
        ``port`` defaults to the context's PORT; pass the bound port
        (``listener.getsockname()[1]``) when PORT was 0. Raises RuntimeError
        if called twice, after END/ERROR or after close().
        """
        if port is None:
            if self._ctx.port == 0:
                raise ValueError("PORT is 0: pass the port the listener was bound to, started(port)")
            port = self._ctx.port
        if not _is_int(port) or not 1 <= port <= 65535:
            raise ValueError(f"port must be an integer between 1 and 65535, got {port!r}")
        with self._cond:
            if self._started_sent:
                raise RuntimeError("started() was already called; STARTED is sent once per match")
            self._check_not_finished("started")
            message = self._message("STARTED")
            message["port"] = port
            message["protocol_version"] = PROTOCOL_VERSION
            self._enqueue_locked("STARTED", message)
            self._started_sent = True
            if not self._finished:
                self._next_heartbeat = time.monotonic() + self._interval
            self._cond.notify_all()

    def heartbeat(self) -> None:
        """Queue one HEARTBEAT now (automatic heartbeats make this rarely needed)."""
        with self._cond:
            self._enqueue_locked("HEARTBEAT", self._heartbeat_message())
            self._cond.notify_all()

    def stop_heartbeats(self) -> None:
        """Stop automatic heartbeats (e.g. right before a long shutdown)."""
        with self._cond:
            self._next_heartbeat = None
            self._cond.notify_all()

    def end(
        self, results: Optional[Sequence[Union[PlayerResult, Mapping[str, Any]]]], **extra: Any
    ) -> None:
        """Send END and stop heartbeats.

        ``results``: one entry per player (see :func:`normalize_results`,
        which validates them; ValueError on a bad entry, nothing is sent);
        None omits the field. ``extra`` adds optional fields such as
        ``winner``, ``loser``, ``reason``, ``stats`` or ``details``; a
        ``winner``/``loser`` given as a string must be a player.
        """
        with self._cond:
            self._check_not_finished("end")
            message = self._message("END")
            if results is not None:
                message["results"] = normalize_results(results, self._ctx.players)
            self._add_extra(message, extra)
            self._enqueue_locked("END", message)
            self._finish_locked()

    def error(self, msg: str, **extra: Any) -> None:
        """Send ERROR with ``err_msg`` and stop heartbeats."""
        if not isinstance(msg, str) or not msg:
            raise ValueError("error message must be a non-empty string")
        with self._cond:
            self._check_not_finished("error")
            message = self._message("ERROR")
            message["err_msg"] = msg
            self._add_extra(message, extra)
            self._enqueue_locked("ERROR", message)
            self._finish_locked()

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until every queued message has been answered by the platform.
        Returns False if ``timeout`` seconds passed first (None = no limit)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            # Bounded slices (SIGNAL_CHECK_SEC) so the caller's signal handlers run.
            while self._queue and not self._stopping:
                remaining = SIGNAL_CHECK_SEC if deadline is None else deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, SIGNAL_CHECK_SEC))
            return not self._queue

    def close(self, timeout: Optional[float] = 5.0) -> bool:
        """Stop heartbeats, deliver what is queued (for at most ``timeout``
        seconds), then disconnect. Returns True if everything was delivered.
        Idempotent: later calls return the first call's answer."""
        with self._cond:
            if self._close_result is not None:
                return self._close_result
            self._accepting = False
            self._next_heartbeat = None
            self._cond.notify_all()
        delivered = self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if not delivered:
            # Wake the worker if it is blocked waiting for a reply.
            with self._conn_lock:
                if self._conn is not None:
                    self._conn.shutdown()
        join_deadline = time.monotonic() + self._connect_timeout + 1.0
        while self._thread.is_alive() and time.monotonic() < join_deadline:
            self._thread.join(SIGNAL_CHECK_SEC)
        with self._conn_lock:
            if self._conn is not None and not self._thread.is_alive():
                self._conn.close()
                self._conn = None
        if not delivered:
            with self._cond:
                lost = [item.status for item in self._queue]
            if lost:
                _log.error("control plane: %d report(s) not delivered: %s", len(lost), ", ".join(lost))
        with self._cond:
            self._close_result = delivered
        return delivered

    def __enter__(self) -> "Reporter":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # ---- message building (callers hold _cond) -----------------------------

    def _message(self, status: str) -> JsonObject:
        message: JsonObject = {
            "type": "GAME.REPORT",
            "room_id": self._ctx.room_id,
            "report_token": self._ctx.report_token,
            "match_id": self._ctx.match_id,
            "status": status,
            "timestamp": time.time(),
        }
        if self._game is not None:
            message["game"] = self._game
        return message

    def _heartbeat_message(self) -> JsonObject:
        message = self._message("HEARTBEAT")
        message["ts"] = message["timestamp"]
        return message

    def _add_extra(self, message: JsonObject, extra: Mapping[str, Any]) -> None:
        clash = sorted(set(extra) & _RESERVED_REPORT_FIELDS)
        if clash:
            raise ValueError(f"field(s) {', '.join(clash)} are set by the SDK and cannot be passed")
        for key in ("winner", "loser"):
            value = extra.get(key)
            if isinstance(value, str) and value not in self._ctx.players:
                raise ValueError(f"{key} {_short(value)} is not a player of this match")
        message.update(extra)

    def _check_not_finished(self, what: str) -> None:
        if self._finished:
            raise RuntimeError(f"{what}() after the match was already reported as finished (END or ERROR)")

    def _finish_locked(self) -> None:
        self._finished = True
        self._next_heartbeat = None
        self._cond.notify_all()

    def _enqueue_locked(self, status: str, message: JsonObject) -> None:
        if not self._accepting or self._stopping:
            raise RuntimeError("the reporter is closed")
        line = _encode_line(message)  # raises ValueError before anything is queued
        self._queue.append(_Outgoing(status, line))
        self._cond.notify_all()

    # ---- worker thread -------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    item = self._next_item_locked()
                    if item is None:
                        return
                if self._deliver(item):
                    with self._cond:
                        if self._queue and self._queue[0] is item:
                            self._queue.popleft()
                        self._cond.notify_all()
        finally:
            with self._conn_lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
            with self._cond:
                self._stopping = True
                self._cond.notify_all()

    def _next_item_locked(self) -> Optional[_Outgoing]:
        """Block until there is something to send (None = stop)."""
        while not self._stopping:
            if self._queue:
                return self._queue[0]
            now = time.monotonic()
            if self._next_heartbeat is not None and now >= self._next_heartbeat:
                # Scheduled from *now*, not from the missed deadline: after a
                # stall we send one heartbeat, not a burst.
                self._next_heartbeat = now + self._interval
                line = _encode_line(self._heartbeat_message())
                self._queue.append(_Outgoing("HEARTBEAT", line))
                continue
            wait = None if self._next_heartbeat is None else self._next_heartbeat - now
            self._cond.wait(wait)
        return None

    def _deliver(self, item: _Outgoing) -> bool:
        """Send one message until the platform replies. False = stopping."""
        attempt = 0
        while True:
            with self._cond:
                if self._stopping:
                    return False
            try:
                conn = self._connection()
                conn.send_line(item.line[:-1])
                reply_line = conn.recv_line(self._reply_timeout)
            except (OSError, ConnectionError, TimeoutError, LineTooLongError) as exc:
                self._disconnect()
                attempt += 1
                delay = min(self._max_backoff, self._initial_backoff * (2 ** min(attempt - 1, 30)))
                delay *= random.uniform(0.5, 1.0)  # jitter: many games must not reconnect in lockstep
                log = _log.warning if attempt <= 3 or attempt % 10 == 0 else _log.debug
                log(
                    "control plane %s:%d: %s failed (%s); retry %d in %.2f s (match %s)",
                    self._ctx.report_host,
                    self._ctx.report_port,
                    item.status,
                    exc,
                    attempt,
                    delay,
                    self._ctx.match_id,
                )
                with self._cond:
                    if self._cond.wait_for(lambda: self._stopping, delay):
                        return False
                continue
            self._handle_reply(item, reply_line)
            return True

    def _handle_reply(self, item: _Outgoing, line: bytes) -> None:
        with self._cond:
            self._delivered += 1
        try:
            reply = _decode_object(line, "control-plane reply")
        except ProtocolError as exc:
            _log.warning("control plane: %s after %s (match %s)", exc, item.status, self._ctx.match_id)
            return
        if reply.get("ok") is True:
            return
        error = reply.get("error")
        sentence = error if isinstance(error, str) else json.dumps(error)
        with self._cond:
            self._rejections.append((item.status, sentence))
        _log.warning(
            "control plane refused %s (match %s, token %s): %s",
            item.status,
            self._ctx.match_id,
            redact(self._ctx.report_token),
            sentence,
        )

    def _connection(self) -> LineConnection:
        with self._conn_lock:
            if self._conn is not None:
                return self._conn
        conn = LineConnection.connect(
            self._ctx.report_host, self._ctx.report_port, self._connect_timeout, send_timeout=self._reply_timeout
        )
        with self._conn_lock:
            self._conn = conn
        _log.debug(
            "control plane: connected to %s:%d (match %s, token %s)",
            self._ctx.report_host,
            self._ctx.report_port,
            self._ctx.match_id,
            redact(self._ctx.report_token),
        )
        return conn

    def _disconnect(self) -> None:
        with self._conn_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


# --------------------------------------------------------------------------
# Client <-> game server handshake v1
# --------------------------------------------------------------------------


def build_handshake(ctx: ClientContext) -> JsonObject:
    """The client's first line on the game connection."""
    return {
        "room_id": ctx.room_id,
        "match_id": ctx.match_id,
        "player_name": ctx.player_name,
        "client_token": ctx.client_token,
        "client_protocol_version": PROTOCOL_VERSION,
    }


def connect_and_handshake(
    ctx: ClientContext, timeout: float = 10.0, *, retry_interval: float = 0.2
) -> Tuple[LineConnection, JsonObject]:
    """Connect to the game server, send the handshake and read the answer.

    Connection refusals are retried every ``retry_interval`` seconds until
    ``timeout`` (the whole call's budget) runs out. Returns the connection and
    the server's response (``ok`` is true; ``assigned_player_index`` and
    ``game_protocol_version`` when the server sent them). Raises
    :class:`HandshakeError` if the server refuses or answers nonsense,
    TimeoutError, or OSError.
    """
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"could not connect to the game server at {ctx.host}:{ctx.port} within {timeout:g} s")
        try:
            conn = LineConnection.connect(ctx.host, ctx.port, timeout=remaining)
            break
        except (ConnectionRefusedError, socket.timeout, TimeoutError) as exc:
            last_error = exc
            _log.debug("game server %s:%d not reachable yet (%s)", ctx.host, ctx.port, last_error)
            pause = min(retry_interval, deadline - time.monotonic())
            if pause > 0:
                time.sleep(pause)  # retry pacing for a server that is still binding
    try:
        conn.send_json(build_handshake(ctx))
        try:
            response = conn.recv_json(max(0.0, deadline - time.monotonic()))
        except ProtocolError as exc:
            raise HandshakeError(f"the game server answered with an invalid handshake response ({exc})") from None
        except ConnectionClosedError:
            raise HandshakeError("the game server closed the connection without answering the handshake") from None
        ok = response.get("ok")
        if ok is not True:
            if ok is False:
                reason = response.get("reason")
                raise HandshakeError(reason if isinstance(reason, str) and reason else "no reason given")
            raise HandshakeError("the game server's response has no boolean 'ok' field")
    except BaseException:
        conn.close()
        raise
    return conn, response


@dataclasses.dataclass(frozen=True)
class HandshakeResult:
    """Outcome of validating one handshake. ``player_index`` is the player's
    position in the context's player list (stable for the whole match)."""

    ok: bool
    reason: Optional[str] = None
    player_index: Optional[int] = None
    player_name: Optional[str] = None

    def response(self, game_protocol_version: int = PROTOCOL_VERSION) -> JsonObject:
        """The line the server sends back."""
        if self.ok:
            return {
                "ok": True,
                "assigned_player_index": self.player_index,
                "game_protocol_version": game_protocol_version,
            }
        return {"ok": False, "reason": self.reason or "handshake refused"}


_HANDSHAKE_FIELDS: Tuple[Tuple[str, type], ...] = (
    ("room_id", int),
    ("match_id", str),
    ("player_name", str),
    ("client_token", str),
    ("client_protocol_version", int),
)
_SUPPORTED_CLIENT_VERSIONS = frozenset({PROTOCOL_VERSION})


class HandshakeValidator:
    """Server-side handshake checks, in this order: the line is a JSON object
    with the five v1 fields of the right types; ``client_token`` matches
    (constant-time); ``match_id`` is this match's (a stale client from an
    earlier match is refused); ``room_id`` matches; the player is in the
    match; the client protocol version is supported; the player is not
    already connected. An accepted player stays "connected" until
    :meth:`release` (call it when their connection ends if your game allows
    rejoining). Thread-safe.
    """

    def __init__(self, ctx: ServerContext, *, game_protocol_version: int = PROTOCOL_VERSION) -> None:
        self._ctx = ctx
        self._token = ctx.client_token.encode("utf-8")
        self.game_protocol_version = game_protocol_version
        self._lock = threading.Lock()
        self._joined: Set[str] = set()

    @property
    def joined(self) -> FrozenSet[str]:
        with self._lock:
            return frozenset(self._joined)

    def all_joined(self) -> bool:
        with self._lock:
            return len(self._joined) == len(self._ctx.players)

    def release(self, player_name: str) -> None:
        """Forget that ``player_name`` is connected, so they may handshake again."""
        with self._lock:
            self._joined.discard(player_name)

    def validate(self, message: Union[bytes, str, Mapping[str, Any]]) -> HandshakeResult:
        """Validate a raw handshake line (bytes/str) or an already parsed object."""
        if isinstance(message, Mapping):
            obj: Mapping[str, Any] = message
        else:
            data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
            if len(data) > MAX_LINE_BYTES:
                return _refuse(f"handshake is longer than {MAX_LINE_BYTES} bytes")
            try:
                obj = _decode_object(data, "handshake")
            except ProtocolError as exc:
                return _refuse(str(exc))

        missing = [name for name, _ in _HANDSHAKE_FIELDS if name not in obj]
        if missing:
            return _refuse(f"handshake is missing field(s): {', '.join(missing)}")
        for name, kind in _HANDSHAKE_FIELDS:
            value = obj[name]
            if kind is int and not _is_int(value):
                return _refuse(f"handshake field {name} must be an integer")
            if kind is str and not isinstance(value, str):
                return _refuse(f"handshake field {name} must be a string")

        if not hmac.compare_digest(obj["client_token"].encode("utf-8"), self._token):
            return _refuse("client_token is not valid for this match")
        if obj["match_id"] != self._ctx.match_id:
            return _refuse(f"match_id {_short(obj['match_id'])} is not this match (a stale or foreign client)")
        if obj["room_id"] != self._ctx.room_id:
            return _refuse(f"room_id {obj['room_id']} is not this game's room")
        name = obj["player_name"]
        index = self._ctx.player_index(name)
        if index is None:
            return _refuse(f"player {_short(name)} is not in this match")
        version = obj["client_protocol_version"]
        if version not in _SUPPORTED_CLIENT_VERSIONS:
            return _refuse(
                f"client protocol version {version} is not supported (this server speaks {PROTOCOL_VERSION})"
            )
        with self._lock:
            if name in self._joined:
                return _refuse(f"player {_short(name)} is already connected")
            self._joined.add(name)
        return HandshakeResult(ok=True, player_index=index, player_name=name)


def _refuse(reason: str) -> HandshakeResult:
    return HandshakeResult(ok=False, reason=reason)


def accept_handshake(conn: LineConnection, validator: HandshakeValidator, timeout: float = 10.0) -> HandshakeResult:
    """Read the handshake from a freshly accepted connection, validate it and
    answer it. Never raises for peer misbehaviour: a timeout, an oversized or
    malformed line, or a closed connection yields a refused result. The
    caller keeps the connection if ``result.ok`` and closes it otherwise."""
    try:
        line = conn.recv_line(timeout)
    except TimeoutError:
        result = _refuse(f"no handshake received within {timeout:g} s")
    except LineTooLongError:
        result = _refuse(f"handshake is longer than {MAX_LINE_BYTES} bytes")
    except (ConnectionClosedError, OSError):
        return _refuse("the client closed the connection before the handshake")
    else:
        result = validator.validate(line)
    try:
        conn.send_json(result.response(validator.game_protocol_version))
    except (OSError, TimeoutError) as exc:
        if result.ok and result.player_name is not None:
            validator.release(result.player_name)
        return _refuse(f"could not send the handshake response ({exc})")
    return result


def serve_game_socket(
    ctx: ServerContext, *, backlog: int = 16, host: Optional[str] = None, port: Optional[int] = None
) -> socket.socket:
    """Bind BIND_HOST:PORT (or ``host``/``port``) with SO_REUSEADDR and listen.

    A restarted match can then rebind a port whose previous connections are
    still in TIME_WAIT. Raises OSError (e.g. address in use) with the address
    in the message.
    """
    bind_host = ctx.bind_host if host is None else host
    bind_port = ctx.port if port is None else port
    infos = socket.getaddrinfo(bind_host or None, bind_port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and hasattr(socket, "IPV6_V6ONLY"):
            try:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # "::" also serves IPv4
            except OSError:
                pass
        try:
            sock.bind(address)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot bind {bind_host}:{bind_port}: {exc.strerror}") from None
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock

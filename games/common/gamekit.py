"""gamekit -- the runtime shared by the gamestore reference games.

Standard library only, on top of ``gamestore_sdk``. The build copies this file
and ``gamestore_sdk.py`` into every reference-game package, next to
``server.py`` and ``client.py``.

Server side
    :func:`run_server` does the platform lifecycle once for every game: read
    the launch environment, listen, answer handshakes, send STARTED, heartbeat,
    send END with the game's results, exit 0 on SIGTERM. The game itself is one
    single-threaded function ``play(match, args) -> GameEnd``. It sees every
    player's connection as :class:`Event` s on one queue (:class:`Match`), so
    a turn loop can wait for "the next thing that happens" with a deadline and
    notice at once when *any* player leaves, not only the one whose turn it is.

Client side
    :class:`Terminal` (ANSI screens on a TTY, plain text otherwise),
    :class:`LineReader` (reads the player's typing without blocking the game,
    so a message from the server still shows up while the prompt waits),
    :class:`ServerLink` (server messages on a queue) and :func:`run_client`
    (the loop that ties them to a game's :class:`ClientGame`).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import logging
import math
import os
import queue
import random
import select
import signal
import socket
import sys
import time
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, TextIO

import gamestore_sdk as sdk

log = logging.getLogger("gamekit")

#: The main thread never blocks longer than this in one call, so a SIGTERM
#: handler runs promptly (see ``gamestore_sdk.SIGNAL_CHECK_SEC``).
WAKE_SEC = sdk.SIGNAL_CHECK_SEC
HANDSHAKE_TIMEOUT_SEC = 10.0
#: A client that stops reading must not stall the whole match: a send that
#: cannot finish within this removes the player.
SEND_TIMEOUT_SEC = 5.0
#: A client sending this many rejected messages is buggy or hostile; it is
#: removed with outcome ERROR so it cannot keep the server busy forever.
MAX_REJECTIONS = 100
#: After the final message, how long the server waits for clients to hang up
#: before it closes their connections (closing first could reset the
#: connection and lose the final message in flight).
CLOSE_GRACE_SEC = 2.0
#: Bounded queue: a flooding client is slowed down by TCP back-pressure
#: instead of growing the server's memory.
EVENT_QUEUE_SIZE = 1024

JsonObject = Dict[str, Any]


# --------------------------------------------------------------------------
# Server side
# --------------------------------------------------------------------------


class Terminated(Exception):
    """Raised in the main thread by the SIGTERM handler."""


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not interrupt the cleanup
    raise Terminated()


@dataclasses.dataclass(frozen=True)
class Event:
    """Something one player did.

    ``kind`` is ``"message"`` (``message`` holds the JSON object), ``"invalid"``
    (a line that is not a JSON object; ``reason`` says why) or ``"left"`` (the
    player is out of the match: disconnected, timed out or removed;
    ``outcome`` is QUIT, or ERROR for a protocol violation).
    """

    kind: str
    player: str
    message: Optional[JsonObject] = None
    reason: str = ""
    outcome: str = "QUIT"


@dataclasses.dataclass
class GameEnd:
    """What ``play`` returns: the END report's content, and the last message
    for each player still connected (their result screen)."""

    results: List[sdk.PlayerResult]
    reason: str
    winner: Optional[str] = None
    stats: Optional[JsonObject] = None
    final_messages: Dict[str, JsonObject] = dataclasses.field(default_factory=dict)


class Match:
    """The players' connections, seen from the game's (single) main thread.

    Handshake/reader threads only put events on the queue; every other
    attribute is used by the main thread alone, so nothing here needs a lock.
    """

    def __init__(self, ctx: sdk.ServerContext, events: "queue.Queue[Any]") -> None:
        self.ctx = ctx
        self.players: List[str] = list(ctx.players)
        self._events = events
        self._conns: Dict[str, sdk.LineConnection] = {}
        self._departed: Dict[str, Event] = {}  # name -> the "left" event that removed them
        self._synthetic: Deque[Event] = collections.deque()  # removals decided by the main thread
        self._rejections: Dict[str, int] = collections.defaultdict(int)
        self._join_phase = True

    # ---- who is here -------------------------------------------------------

    @property
    def connected(self) -> List[str]:
        """Players with an open connection, in seat order."""
        return [name for name in self.players if name in self._conns]

    @property
    def never_joined(self) -> List[str]:
        """Players who did not complete the handshake before the game started."""
        return [name for name in self.players if name not in self._conns and name not in self._departed]

    def departure(self, player: str) -> Optional[Event]:
        """The "left" event that removed ``player``, or None if still here."""
        return self._departed.get(player)

    # ---- join phase -------------------------------------------------------

    def wait_for_players(self, timeout: float) -> List[str]:
        """Collect handshakes until every player joined (or left again) or
        ``timeout`` passes. Returns the players who are absent when the game
        starts (never joined, or left during the wait), in seat order.
        Every joined client gets ``{"type":"waiting",...}`` after each join."""
        deadline = time.monotonic() + timeout
        while any(name not in self._conns and name not in self._departed for name in self.players):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                item = self._events.get(timeout=min(remaining, WAKE_SEC))
            except queue.Empty:
                continue  # the deadline check ends the loop
            if isinstance(item, tuple):  # ("joined", name, conn) from a handshake thread
                _, name, conn = item
                self._conns[name] = conn
                log.info("%s joined", name)
                self._broadcast_waiting()
            elif item.kind == "left":
                self._mark_departed(item)
                log.info("%s left before the game started (%s)", item.player, item.reason)
                self._broadcast_waiting()
            elif item.player in self._conns:
                self.reject(item.player, "The game has not started yet: wait for the other players.")
        self._join_phase = False
        absent = [name for name in self.players if name not in self._conns]
        if absent:
            log.warning("absent when the game starts: %s", ", ".join(absent))
        return absent

    def _broadcast_waiting(self) -> None:
        joined = self.connected
        missing = [name for name in self.players if name not in self._conns and name not in self._departed]
        self.broadcast({"type": "waiting", "joined": joined, "missing": missing})

    # ---- events -------------------------------------------------------------

    def next_event(self, deadline: Optional[float]) -> Optional[Event]:
        """The next event of a player still in the match; None once
        ``deadline`` (``time.monotonic()``) passes. None as deadline waits
        without limit (in WAKE_SEC slices, so signals are handled)."""
        while True:
            if self._synthetic:
                return self._synthetic.popleft()
            wait = WAKE_SEC if deadline is None else min(WAKE_SEC, deadline - time.monotonic())
            if wait <= 0:
                return None
            try:
                item = self._events.get(timeout=wait)
            except queue.Empty:
                continue
            if isinstance(item, tuple):
                # A handshake that finished after the game started: the seat is gone.
                _, name, conn = item
                self._send_and_close(conn, {"type": "removed", "outcome": "QUIT",
                                            "reason": "The game started without you."})
                continue
            if item.player not in self._conns:
                continue  # from a player already removed (e.g. the EOF after a timeout)
            if item.kind == "left":
                if item.outcome == "ERROR":  # still connected: say why before hanging up
                    conn = self._conns.pop(item.player)
                    self._send_and_close(conn, {"type": "removed", "outcome": item.outcome, "reason": item.reason})
                self._mark_departed(item)
            return item

    def _mark_departed(self, event: Event) -> None:
        conn = self._conns.pop(event.player, None)
        if conn is not None:
            conn.close()
        self._departed.setdefault(event.player, event)

    def remove(self, player: str, reason: str, *, outcome: str = "QUIT",
               final_message: Optional[JsonObject] = None) -> None:
        """Take ``player`` out of the match (a timeout, too many bad messages):
        send them ``final_message`` (default: a ``removed`` message), close
        their connection; the game then gets a ``left`` event from
        :meth:`next_event`, as for a disconnect."""
        conn = self._conns.get(player)
        if conn is None:
            return
        message = final_message or {"type": "removed", "outcome": outcome, "reason": reason}
        self._conns.pop(player)
        self._send_and_close(conn, message)
        event = Event("left", player, reason=reason, outcome=outcome)
        self._departed.setdefault(player, event)
        if not self._join_phase:  # before the game, departures are read from departure()
            self._synthetic.append(event)
        log.info("removed %s: %s", player, reason)

    # ---- sending ------------------------------------------------------------

    def send(self, player: str, message: JsonObject) -> bool:
        """Send to one player; a player who cannot be reached is removed
        (the game sees a ``left`` event). Returns whether it was sent."""
        conn = self._conns.get(player)
        if conn is None:
            return False
        try:
            conn.send_json(message)
            return True
        except (OSError, TimeoutError) as exc:
            self._conns.pop(player)
            conn.close()
            event = Event("left", player, reason=f"connection lost ({exc})")
            self._departed.setdefault(player, event)
            if not self._join_phase:
                self._synthetic.append(event)
            log.info("lost %s while sending: %s", player, exc)
            return False

    def broadcast(self, message: JsonObject) -> None:
        for name in self.connected:
            self.send(name, message)

    def reject(self, player: str, reason: str) -> None:
        """Tell ``player`` their message was refused, and why. After
        :data:`MAX_REJECTIONS` the player is removed with outcome ERROR."""
        self._rejections[player] += 1
        if self._rejections[player] > MAX_REJECTIONS:
            self.remove(player, f"sent more than {MAX_REJECTIONS} invalid messages", outcome="ERROR")
            return
        self.send(player, {"type": "rejected", "reason": reason})

    @staticmethod
    def _send_and_close(conn: sdk.LineConnection, message: JsonObject) -> None:
        try:
            conn.raw_socket.settimeout(0.5)  # best effort: the player is leaving anyway
            conn.send_json(message)
            conn.raw_socket.shutdown(socket.SHUT_WR)
        except (OSError, TimeoutError, ValueError):
            pass
        conn.close()

    def send_final(self, final_messages: Mapping[str, JsonObject]) -> None:
        """Send each connected player their final message and shut down our
        side of the connection (they see EOF after it)."""
        for name in self.connected:
            message = final_messages.get(name)
            if message is not None and not self.send(name, message):
                continue
            conn = self._conns.get(name)
            if conn is None:
                continue
            try:
                conn.raw_socket.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def wait_closed(self, grace: float = CLOSE_GRACE_SEC) -> None:
        """Give the clients ``grace`` seconds to hang up, then close.

        Closing a socket that still has unread incoming data resets the
        connection, which can destroy the final message still in flight; the
        reader threads drain the clients until they close their end."""
        waiting = set(self.connected)
        deadline = time.monotonic() + grace
        while waiting:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                item = self._events.get(timeout=min(WAKE_SEC, remaining))
            except queue.Empty:
                continue
            if not isinstance(item, tuple) and item.kind == "left":
                waiting.discard(item.player)
        self.close_all()

    def close_all(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()


def play_turns(match: "Match", game: Any, turn_timeout: float, *, start: JsonObject,
               state: Callable[[], JsonObject], move: Callable[[str, JsonObject], Optional[str]],
               move_example: str,
               finish: Callable[[Dict[str, str], Dict[str, str]], GameEnd]) -> GameEnd:
    """The match of a two-player game whose players take turns (Connect Four,
    Dots and Boxes). ``game`` has ``over``, ``current`` (whose turn it is)
    and ``forfeit(player)``; ``move(player, message)`` plays one move
    message and returns why it is illegal, or None; ``finish(departures,
    reasons)`` builds the end (departures: player -> QUIT/ERROR).

    A player who never joined forfeits; a player who does not move within
    ``turn_timeout`` is removed (and forfeits); a bad message is rejected."""
    departures: Dict[str, str] = {}
    reasons: Dict[str, str] = {}
    for name in match.players:
        if name not in match.connected:  # never joined, or left while the others were joining
            event = match.departure(name)
            departures[name] = event.outcome if event else "QUIT"
            reasons[name] = event.reason if event else "never joined"
    if len(departures) == len(match.players):
        reason = "Nobody played: " + "; ".join(f"{n} {reasons[n]}" for n in match.players)
        return GameEnd(results=[sdk.PlayerResult(n, departures[n]) for n in match.players], reason=reason)
    if departures:
        game.forfeit(next(iter(departures)))
        return finish(departures, reasons)

    match.broadcast(start)
    match.broadcast(state())
    turn_deadline = time.monotonic() + turn_timeout
    # Bounded: every iteration consumes an event or ends a turn by timeout;
    # a game has finitely many moves and each player at most MAX_REJECTIONS
    # rejected messages before removal.
    while not game.over:
        event = match.next_event(turn_deadline)
        if event is None:
            match.remove(game.current, f"You did not move within {turn_timeout:g} s.")
            continue  # the removal arrives as a "left" event
        if event.kind == "left":
            departures[event.player] = event.outcome
            reasons[event.player] = event.reason
            game.forfeit(event.player)
            continue
        if event.kind == "invalid":
            match.reject(event.player, event.reason)
            continue
        message = event.message or {}
        if message.get("type") != "move":
            match.reject(event.player, f"Unknown message type {message.get('type')!r}: send {move_example}.")
            continue
        problem = move(event.player, message)
        if problem:
            match.reject(event.player, problem)
            continue
        match.broadcast(state())
        turn_deadline = time.monotonic() + turn_timeout
    return finish(departures, reasons)


def _accept_loop(listener: socket.socket, validator: sdk.HandshakeValidator, events: "queue.Queue[Any]") -> None:
    """Acceptor thread. Each connection gets its own thread that runs the
    handshake and then reads that player's lines, so a silent client holds up
    nobody."""

    def serve(sock: socket.socket) -> None:
        try:
            # Several small messages often go out back to back (reveal, round,
            # state); with Nagle each would wait for the client's delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        conn = sdk.LineConnection(sock, send_timeout=SEND_TIMEOUT_SEC)
        result = sdk.accept_handshake(conn, validator, HANDSHAKE_TIMEOUT_SEC)
        if not result.ok or result.player_name is None:
            log.info("refused a connection: %s", result.reason)
            conn.close()
            return
        name = result.player_name
        events.put(("joined", name, conn))
        _read_loop(name, conn, events)

    while True:
        try:
            sock, _ = listener.accept()
        except OSError:
            return  # the listener was closed: no more players are admitted
        sdk.start_thread(serve, sock, name="player")


def _read_loop(name: str, conn: sdk.LineConnection, events: "queue.Queue[Any]") -> None:
    """Turn one player's lines into events until the connection ends."""
    while True:
        try:
            message = conn.recv_json(None)
        except sdk.LineTooLongError:
            events.put(Event("left", name, reason=f"sent a line longer than {sdk.MAX_LINE_BYTES} bytes",
                             outcome="ERROR"))
            return
        except sdk.ProtocolError as exc:
            events.put(Event("invalid", name, reason=f"Your message was not understood: {exc}."))
            continue
        except sdk.ConnectionClosedError:
            events.put(Event("left", name, reason="disconnected"))
            return
        except Exception as exc:  # noqa: BLE001 -- a reset, or the main thread closed the connection
            events.put(Event("left", name, reason=f"connection lost ({exc})"))
            return
        events.put(Event("message", name, message=message))


def _stop_listening(listener: socket.socket) -> None:
    """shutdown() first: on Linux, close() alone does not wake a thread blocked in accept()."""
    try:
        listener.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    listener.close()


def positive_seconds(text: str) -> float:
    """argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


def server_arguments(description: str, *, turn_timeout: float, join_timeout: float = 60.0) -> argparse.ArgumentParser:
    """The options every reference-game server takes; a game adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--turn-timeout", type=positive_seconds, default=turn_timeout, metavar="SEC",
                        help=f"a player who does not move within SEC seconds is out with outcome QUIT "
                             f"(default {turn_timeout:g})")
    parser.add_argument("--join-timeout", type=positive_seconds, default=join_timeout, metavar="SEC",
                        help=f"players who have not joined SEC seconds after STARTED are out (default {join_timeout:g})")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed the game's random numbers (reproducible matches; default: unpredictable)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def run_server(game_name: str, parser: argparse.ArgumentParser,
               play: Callable[[Match, argparse.Namespace], GameEnd], argv: Optional[Sequence[str]] = None) -> int:
    """The whole life of a game server process. Returns the exit status:
    0 after END (or SIGTERM), 1 when the platform could not be told, 2 for a
    bad launch environment or command line."""
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        ctx = sdk.ServerContext.from_env()
    except sdk.LaunchContextError as exc:
        log.error("%s", exc)
        return 2
    log.info("%s starting: %r", game_name, ctx)  # the context's repr redacts the tokens

    reporter = sdk.Reporter(ctx, game=game_name)
    listener: Optional[socket.socket] = None
    match: Optional[Match] = None
    try:
        try:
            listener = sdk.serve_game_socket(ctx)
        except OSError as exc:
            log.error("%s", exc)
            reporter.error(f"cannot listen: {exc}")
            reporter.close(timeout=5.0)
            return 1
        events: "queue.Queue[Any]" = queue.Queue(EVENT_QUEUE_SIZE)
        validator = sdk.HandshakeValidator(ctx)
        # start_thread, not threading.Thread: SIGTERM must reach the main thread.
        sdk.start_thread(_accept_loop, listener, validator, events, name="acceptor")
        match = Match(ctx, events)
        reporter.started(ctx.port if ctx.port else listener.getsockname()[1])

        match.wait_for_players(args.join_timeout)
        _stop_listening(listener)  # late connections are refused from now on
        listener = None
        end = play(match, args)
        # Players first (their messages only have to reach the kernel), then
        # the platform, which may stop this process soon after END.
        match.send_final(end.final_messages)
        extra: JsonObject = {"reason": end.reason}
        if end.winner is not None:
            extra["winner"] = end.winner
        if end.stats is not None:
            extra["stats"] = end.stats
        reporter.end(end.results, **extra)
        match.wait_closed()
        if not reporter.close(timeout=10.0):
            log.error("the platform did not acknowledge END")
            return 1
        log.info("match over (%s): %s", end.reason, ", ".join(f"{r.player}={r.outcome}" for r in end.results))
        return 0
    except Terminated:
        log.info("SIGTERM received; stopping the match")
        if match is not None:
            for name in match.connected:
                match.remove(name, "The platform stopped the match.", final_message={
                    "type": "aborted", "reason": "The platform stopped the match."})
        reporter.close(timeout=1.0)
        return 0
    except Exception as exc:  # report, then fail: the platform cleans up the room
        log.exception("game server failed")
        try:
            reporter.error(f"game server failed: {exc}")
        except RuntimeError:
            pass  # END was already queued
        reporter.close(timeout=5.0)
        return 1
    finally:
        if match is not None:
            match.close_all()
        if listener is not None:
            _stop_listening(listener)
        reporter.close(timeout=0)


def main_guard(run: Callable[[], int]) -> None:
    """``sys.exit(run())``, where a SIGTERM during the final cleanup still exits 0."""
    try:
        sys.exit(run())
    except Terminated:
        sys.exit(0)


# --------------------------------------------------------------------------
# Client side
# --------------------------------------------------------------------------

#: Exit statuses of the reference-game clients.
EXIT_OK = 0  # a result was shown (or the player chose to leave)
EXIT_ENV = 2  # the launch environment is unusable
EXIT_REFUSED = 3  # the server refused the handshake
EXIT_LOST = 4  # the connection failed, the server went silent or the match was stopped

CONNECT_TIMEOUT_SEC = 30.0


def bot_requested(flag: bool, env: Optional[Mapping[str, str]] = None) -> bool:
    """``--bot`` or ``GAMESTORE_BOT=1`` (the platform's test harness sets the
    environment without changing the manifest's command)."""
    source = os.environ if env is None else env
    return flag or source.get("GAMESTORE_BOT", "").strip().lower() in ("1", "true", "yes", "on")


def bot_seed(seed: Optional[int], env: Optional[Mapping[str, str]] = None) -> Optional[int]:
    """``--seed`` wins; else ``GAMESTORE_BOT_SEED`` when it is an integer."""
    if seed is not None:
        return seed
    text = (os.environ if env is None else env).get("GAMESTORE_BOT_SEED", "").strip()
    try:
        return int(text) if text else None
    except ValueError:
        return None


class Terminal:
    """Screen output that degrades gracefully.

    On a terminal: a full-screen redraw (ANSI clear) and colours. When stdout
    is a pipe or a file, or ``TERM=dumb``: no escape codes at all, screens are
    separated by a blank line. ``NO_COLOR`` (https://no-color.org) keeps the
    redraw but drops colours.
    """

    STYLES = {"red": "31", "yellow": "33", "green": "32", "cyan": "36", "bold": "1", "dim": "2", "reverse": "7"}

    def __init__(self, stream: Optional[TextIO] = None, env: Optional[Mapping[str, str]] = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        source = os.environ if env is None else env
        try:
            tty = self.stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        self.ansi = tty and source.get("TERM", "") != "dumb"
        self.colour = self.ansi and "NO_COLOR" not in source

    def style(self, text: str, *styles: str) -> str:
        if not self.colour or not styles:
            return text
        codes = ";".join(self.STYLES[name] for name in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def screen(self, lines: Sequence[str]) -> None:
        """Replace the screen (TTY) or print the next screen (anything else)."""
        text = "\n".join(lines)
        if self.ansi:
            self.stream.write("\x1b[H\x1b[2J" + text + "\n")
        else:
            self.stream.write("\n" + text + "\n")
        self.stream.flush()

    def say(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def prompt(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


class LineReader:
    """Lines typed by the player, read without blocking the game loop.

    select() + os.read() on the file descriptor, not ``input()``: the loop
    polls it in short slices and handles server messages in between, and
    reading the raw descriptor means no line can hide in Python's buffer
    where select() does not see it.
    """

    MAX_LINE = 4096

    def __init__(self, fd: int = 0) -> None:
        self.fd = fd
        self._buffer = b""
        self._eof = False

    def poll(self, timeout: float) -> Optional[str]:
        """The next complete line (without its newline) or None if none came
        within ``timeout``. Raises EOFError once the input has ended."""
        newline = self._buffer.find(b"\n")
        if newline < 0 and not self._eof:
            try:
                ready, _, _ = select.select([self.fd], [], [], timeout)
            except (OSError, ValueError):
                ready = [self.fd]  # let os.read report the real state
            if ready:
                try:
                    chunk = os.read(self.fd, self.MAX_LINE)
                except OSError:
                    chunk = b""
                if chunk:
                    self._buffer += chunk
                else:
                    self._eof = True
            newline = self._buffer.find(b"\n")
        if newline >= 0:
            line, self._buffer = self._buffer[:newline], self._buffer[newline + 1:]
            return line.decode("utf-8", errors="replace").strip()
        if len(self._buffer) >= self.MAX_LINE or (self._eof and self._buffer):
            line, self._buffer = self._buffer, b""
            return line.decode("utf-8", errors="replace").strip()
        if self._eof:
            raise EOFError("the input ended")
        return None


class LinkClosed(Exception):
    """The connection to the game server ended; ``args[0]`` says why."""


class ServerLink:
    """The game connection after the handshake: a thread reads the server's
    messages into a queue, the game loop takes them with a timeout."""

    _CLOSED = object()

    def __init__(self, conn: sdk.LineConnection) -> None:
        self.conn = conn
        self._queue: "queue.Queue[Any]" = queue.Queue()
        self._closed_reason = ""
        sdk.start_thread(self._read, name="server-link")

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv_json(None)
            except sdk.ProtocolError as exc:
                self._closed_reason = f"the game server sent something unreadable ({exc})"
                break
            except sdk.ConnectionClosedError:
                self._closed_reason = "the game server closed the connection"
                break
            except Exception as exc:  # noqa: BLE001 -- a reset, or close() from the main thread
                self._closed_reason = f"the connection failed ({exc})"
                break
            self._queue.put(message)
        self._queue.put(self._CLOSED)

    def get(self, timeout: float) -> Optional[JsonObject]:
        """The next message, None after ``timeout``; LinkClosed when the connection ended."""
        try:
            item = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
        except queue.Empty:
            return None
        if item is self._CLOSED:
            self._queue.put(item)  # every later call sees it too
            raise LinkClosed(self._closed_reason)
        return item

    def send(self, message: JsonObject) -> bool:
        try:
            self.conn.send_json(message)
            return True
        except (OSError, TimeoutError):
            return False

    def close(self) -> None:
        self.conn.shutdown()
        self.conn.close()


class ClientGame:
    """What :func:`run_client` drives. A game overrides the hooks."""

    #: Seconds without any server message after which the client gives up.
    idle_limit: float = 300.0

    def handle(self, message: JsonObject) -> Optional[int]:
        """React to a server message; an int ends the client with that status."""
        raise NotImplementedError

    def awaiting_input(self) -> bool:
        """True while the player should type something."""
        return False

    def prompt_text(self) -> str:
        return "> "

    def handle_input(self, line: str) -> Optional[int]:
        """React to a typed line; an int ends the client with that status."""
        return None

    def connection_lost(self, reason: str) -> int:
        return EXIT_LOST


def run_client(link: ServerLink, game: ClientGame, terminal: Terminal, reader: Optional[LineReader]) -> int:
    """The client's main loop: server messages and (for a human) typed lines.

    ``reader`` is None for a bot. Bounded by the server: every turn has a
    server-side timeout, so a client that hears nothing for
    ``game.idle_limit`` seconds concludes the server is gone.
    """
    last_heard = time.monotonic()
    prompted = False
    while True:
        if reader is not None and game.awaiting_input():
            if not prompted:
                terminal.prompt(game.prompt_text())
                prompted = True
            try:
                line = reader.poll(0.1)
            except EOFError:
                terminal.say()
                terminal.say("Input ended: leaving the match.")
                return EXIT_OK
            if line is not None:
                prompted = False
                status = game.handle_input(line)
                if status is not None:
                    return status
            timeout = 0.0
        else:
            timeout = WAKE_SEC
        try:
            message = link.get(timeout)
        except LinkClosed as exc:
            if prompted:
                terminal.say()
            terminal.say(f"Lost the game server: {exc}.")
            return game.connection_lost(str(exc))
        if message is None:
            if time.monotonic() - last_heard > game.idle_limit:
                terminal.say(f"The game server has been silent for {game.idle_limit:g} s; giving up.")
                return EXIT_LOST
            continue
        last_heard = time.monotonic()
        if prompted:
            terminal.say()  # end the prompt line before anything is printed
        prompted = False
        status = game.handle(message)
        if status is not None:
            return status


def connect(description: str, argv: Optional[Sequence[str]], add_options: Optional[Callable[[argparse.ArgumentParser], None]] = None):
    """Parse the client's command line (``--bot``, ``--seed`` and the game's
    own options), read the launch environment and join the match.

    Returns ``(args, ctx, link, response)`` or an int exit status after
    printing what went wrong.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bot", action="store_true",
                        help="play automatically, without reading the keyboard (also: GAMESTORE_BOT=1)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the bot's random choices (also: GAMESTORE_BOT_SEED)")
    if add_options is not None:
        add_options(parser)
    args = parser.parse_args(argv)
    args.bot = bot_requested(args.bot)
    args.seed = bot_seed(args.seed)
    try:
        ctx = sdk.ClientContext.from_env()
    except sdk.LaunchContextError as exc:
        print(exc, file=sys.stderr)
        return EXIT_ENV
    try:
        conn, response = sdk.connect_and_handshake(ctx, timeout=CONNECT_TIMEOUT_SEC)
    except sdk.HandshakeError as exc:
        print(f"The game server refused us: {exc.reason}", file=sys.stderr)
        return EXIT_REFUSED
    except (OSError, TimeoutError) as exc:
        print(f"Cannot reach the game server at {ctx.host}:{ctx.port}: {exc}", file=sys.stderr)
        return EXIT_LOST
    return args, ctx, ServerLink(conn), response


def client_main(description: str, argv: Optional[Sequence[str]],
                make_game: Callable[[Terminal, ServerLink, str, Optional[random.Random]], ClientGame]) -> int:
    """A whole game client: join the match (``connect``), build the game with
    ``make_game(terminal, link, player_name, rng)`` (rng only for a bot),
    play it (``run_client``; the keyboard only for a human) and close."""
    joined = connect(description, argv)
    if isinstance(joined, int):
        return joined
    args, ctx, link, _ = joined
    terminal = Terminal()
    rng = random.Random(args.seed) if args.bot else None
    game = make_game(terminal, link, ctx.player_name, rng)
    reader = None if args.bot else LineReader(0)
    try:
        return run_client(link, game, terminal, reader)
    except KeyboardInterrupt:
        terminal.say("\nYou left the match.")
        return EXIT_OK
    finally:
        link.close()


def waiting_lines(terminal: Terminal, title: str, message: JsonObject) -> List[str]:
    """The screen shown while players join (a ``waiting`` message)."""
    joined = ", ".join(str(name) for name in message.get("joined") or [])
    missing = ", ".join(str(name) for name in message.get("missing") or [])
    lines = [f"  {terminal.style(title, 'bold', 'cyan')}", "", f"  Joined: {joined}"]
    lines.append(f"  Waiting for: {missing}" if missing else "  Everyone is here: the game starts.")
    return lines


def result_lines(terminal: Terminal, message: JsonObject, me: str) -> List[str]:
    """The result screen's body for a ``game_over`` message (same format in every game)."""
    outcome = message.get("outcome") or "?"
    rank = message.get("rank")
    results = message.get("results") if isinstance(message.get("results"), list) else []
    colour = {"WIN": ("green", "bold"), "LOSE": ("red",), "DRAW": ("yellow",), "QUIT": ("dim",), "ERROR": ("red",)}
    headline = {"WIN": "You win!", "LOSE": "You lose.", "DRAW": "It's a draw.",
                "QUIT": "You left the match.", "ERROR": "You were removed for a protocol error."}
    lines = [terminal.style(f"  Game over: {headline.get(outcome, outcome)}", *colour.get(outcome, ()))]
    if message.get("reason"):
        lines.append(f"  {message['reason']}")
    lines.append("")
    lines.append("  Final standings:")
    ordered = sorted(results, key=lambda r: (r.get("rank") is None, r.get("rank") or 0, str(r.get("player"))))
    for entry in ordered:
        name = str(entry.get("player"))
        place = f"{entry['rank']}." if isinstance(entry.get("rank"), int) else "-"
        you = "  (you)" if name == me else ""
        lines.append(f"    {place:<4}{name:<20} {entry.get('outcome', '?'):<5}{you}".rstrip())
    lines.append("")
    of = f" of {len(results)}" if results else ""
    lines.append(f"Result: {outcome}" + (f" (rank {rank}{of})" if isinstance(rank, int) else ""))
    return lines

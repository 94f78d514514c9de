#!/usr/bin/env python3
"""Higher Number -- game server. A complete minimal game on the gamestore Python SDK.

Rules: every player sends one integer; the highest number wins, equal highest
numbers draw. A player who disconnects or does not answer in time QUITs; one
who sends something that is not a number gets ERROR.

Game protocol after the v1 handshake (NDJSON, server -> client unless noted):
    {"type":"start","players":[...],"you":<index>}
    client -> server: {"type":"number","value":<int>}
    {"type":"result","outcome":"WIN|LOSE|DRAW|QUIT|ERROR","rank":<int|null>,"numbers":{name:int|null}}

Lifecycle, as the platform requires: read the launch environment; bind and
listen; only then send STARTED (handshakes can be answered from that moment);
heartbeats run in the background; END carries a result for every player;
SIGTERM exits cleanly with status 0.
"""

from __future__ import annotations

import logging
import queue
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

try:
    import gamestore_sdk as sdk  # vendored next to this file in a published package
except ImportError:  # running from the SDK source tree (sdk/python/examples)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import gamestore_sdk as sdk

GAME_NAME = "HigherNumber"
JOIN_TIMEOUT_SEC = 60.0  # every player must connect within this after STARTED
MOVE_TIMEOUT_SEC = 60.0  # and send their number within this after "start"
HANDSHAKE_TIMEOUT_SEC = 10.0
# The main thread never blocks longer than this in one call, so the SIGTERM
# handler runs promptly (see sdk.SIGNAL_CHECK_SEC for why).
WAKE_SEC = sdk.SIGNAL_CHECK_SEC
MAX_ABS_NUMBER = 10**9

log = logging.getLogger("higher_number.server")


class Terminated(Exception):
    """Raised in the main thread by the SIGTERM handler."""


def on_sigterm(signum: int, frame: object) -> None:
    # Ignore a second SIGTERM while we are already cleaning up.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


# Handshake threads hand (player name, connection) to the main thread.
Joined = queue.Queue[Tuple[str, sdk.LineConnection]]


def accept_players(listener: socket.socket, validator: sdk.HandshakeValidator, joined: Joined) -> None:
    """Acceptor thread: one short-lived thread per connection runs the
    handshake, so a silent or slow client cannot hold up the others."""

    def handshake(sock: socket.socket) -> None:
        conn = sdk.LineConnection(sock)
        result = sdk.accept_handshake(conn, validator, HANDSHAKE_TIMEOUT_SEC)
        if result.ok:
            log.info("player %s joined (index %d)", result.player_name, result.player_index)
            joined.put((result.player_name, conn))
        else:
            log.info("refused a connection: %s", result.reason)
            conn.close()

    while True:
        try:
            sock, _ = listener.accept()
        except OSError:
            return  # the listener was closed: no more players are admitted
        sdk.start_thread(handshake, sock, name="handshake")


def wait_for_players(ctx: sdk.ServerContext, joined: Joined) -> Dict[str, sdk.LineConnection]:
    seats: Dict[str, sdk.LineConnection] = {}
    deadline = time.monotonic() + JOIN_TIMEOUT_SEC
    while len(seats) < len(ctx.players):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            name, conn = joined.get(timeout=min(remaining, WAKE_SEC))
        except queue.Empty:
            continue  # the deadline check above ends the loop
        seats[name] = conn  # the validator admits each player once
    return seats


def stop_listening(listener: socket.socket) -> None:
    """Refuse further connections. shutdown() first: on Linux, close() alone
    does not wake the acceptor thread blocked in accept()."""
    try:
        listener.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected/listening any more
    listener.close()


def read_number(conn: sdk.LineConnection, deadline: float) -> Tuple[Optional[int], str]:
    """(number, outcome-if-invalid). QUIT for silence/disconnect, ERROR for nonsense."""
    try:
        message = conn.recv_json(max(0.0, deadline - time.monotonic()))
    except (TimeoutError, sdk.ConnectionClosedError, OSError):
        return None, "QUIT"
    except sdk.ProtocolError:
        return None, "ERROR"
    value = message.get("value")
    if message.get("type") != "number" or not isinstance(value, int) or isinstance(value, bool):
        return None, "ERROR"
    if abs(value) > MAX_ABS_NUMBER:
        return None, "ERROR"
    return value, ""


def score(players: List[str], numbers: Dict[str, Optional[int]], failures: Dict[str, str]) -> List[sdk.PlayerResult]:
    """Competition ranking on the valid numbers; invalid/absent players get no rank."""
    valid = {name: value for name, value in numbers.items() if value is not None}
    best = max(valid.values()) if valid else None
    top_count = sum(1 for value in valid.values() if value == best)
    results = []
    for name in players:
        value = numbers.get(name)
        if value is None:
            results.append(sdk.PlayerResult(player=name, outcome=failures.get(name, "QUIT")))
            continue
        rank = 1 + sum(1 for other in valid.values() if other > value)
        if rank == 1:
            outcome = "WIN" if top_count == 1 else "DRAW"
        else:
            outcome = "LOSE"
        results.append(sdk.PlayerResult(player=name, outcome=outcome, rank=rank, score=value))
    return results


def play(ctx: sdk.ServerContext, seats: Dict[str, sdk.LineConnection]) -> List[sdk.PlayerResult]:
    players = list(ctx.players)
    for name, conn in seats.items():
        try:
            conn.send_json({"type": "start", "players": players, "you": players.index(name)})
        except (OSError, TimeoutError):
            pass  # read_number will see the broken connection and score a QUIT
    deadline = time.monotonic() + MOVE_TIMEOUT_SEC
    numbers: Dict[str, Optional[int]] = {name: None for name in players}
    failures: Dict[str, str] = {name: "QUIT" for name in players}
    for name, conn in seats.items():
        numbers[name], failures[name] = read_number(conn, deadline)
    results = score(players, numbers, failures)
    for result in results:
        conn = seats.get(result.player)
        if conn is None:
            continue
        try:
            conn.send_json({"type": "result", "outcome": result.outcome, "rank": result.rank, "numbers": numbers})
        except (OSError, TimeoutError):
            pass  # the player left; their result is still reported to the platform
    return results


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        ctx = sdk.ServerContext.from_env()
    except sdk.LaunchContextError as exc:
        log.error("%s", exc)
        return 2
    log.info("starting %r", ctx)  # the context's repr redacts tokens

    reporter = sdk.Reporter(ctx, game=GAME_NAME)
    listener: Optional[socket.socket] = None
    seats: Dict[str, sdk.LineConnection] = {}
    try:
        try:
            listener = sdk.serve_game_socket(ctx)
        except OSError as exc:
            log.error("%s", exc)
            reporter.error(f"cannot listen: {exc}")
            reporter.close(timeout=5.0)
            return 1
        validator = sdk.HandshakeValidator(ctx)
        joined: Joined = queue.Queue()
        # sdk.start_thread, not threading.Thread: the kernel must deliver
        # SIGTERM to the main thread, which waits in queue.get() below.
        sdk.start_thread(accept_players, listener, validator, joined, name="acceptor")
        # Bound, listening, and the acceptor answers handshakes: we are ready.
        reporter.started(ctx.port)

        seats = wait_for_players(ctx, joined)
        stop_listening(listener)  # late or extra connections are refused from now on
        listener = None
        missing = [name for name in ctx.players if name not in seats]
        if missing:
            log.warning("players who never joined: %s", ", ".join(missing))
        results = play(ctx, seats)
        winners = [result.player for result in results if result.outcome == "WIN"]
        extra = {"winner": winners[0]} if winners else {}
        reporter.end(results, reason="highest number wins", **extra)
        if not reporter.close(timeout=10.0):
            log.error("the platform did not acknowledge END")
            return 1
        log.info("match over: %s", ", ".join(f"{r.player}={r.outcome}" for r in results))
        return 0
    except Terminated:
        log.info("SIGTERM received; shutting down")
        reporter.close(timeout=1.0)
        return 0
    except Exception as exc:  # report, then fail: the platform cleans up the room
        log.exception("game server failed")
        try:
            reporter.error(f"game server failed: {exc}")
        except RuntimeError:
            pass  # END/ERROR already queued
        reporter.close(timeout=5.0)
        return 1
    finally:
        for conn in seats.values():
            conn.close()
        if listener is not None:
            stop_listening(listener)
        reporter.close(timeout=0)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Terminated:  # SIGTERM during the final cleanup: nothing is left to do
        sys.exit(0)

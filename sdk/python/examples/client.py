#!/usr/bin/env python3
"""Higher Number -- game client. Joins the match, sends one number, prints the result.

The player's launcher starts it with ROOM_ID, MATCH_ID, HOST, PORT,
PLAYER_NAME and CLIENT_TOKEN (or CLIENT_TOKEN_PATH) in the environment.

    python3 client.py              # asks for a number on a terminal, else picks one at random
    python3 client.py --number 42  # plays 42 (scripts and tests)

Exit status: 0 after a result, 2 for a bad launch environment, 3 when the
server refuses the handshake, 4 when the connection fails.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Optional

try:
    import gamestore_sdk as sdk  # vendored next to this file in a published package
except ImportError:  # running from the SDK source tree (sdk/python/examples)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import gamestore_sdk as sdk

CONNECT_TIMEOUT_SEC = 30.0
GAME_TIMEOUT_SEC = 180.0  # longer than the server's join + move timeouts


def choose_number(preset: Optional[int]) -> int:
    if preset is not None:
        return preset
    if sys.stdin.isatty():
        for _ in range(5):  # bounded: a player who cannot type a number gets a random one
            text = input("Your number: ").strip()
            try:
                return int(text)
            except ValueError:
                print(f"{text!r} is not a whole number; try again.")
    return random.randint(1, 100)


def main() -> int:
    parser = argparse.ArgumentParser(description="Higher Number client")
    parser.add_argument("--number", type=int, help="the number to play (default: ask, or random)")
    args = parser.parse_args()
    try:
        ctx = sdk.ClientContext.from_env()
    except sdk.LaunchContextError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        conn, response = sdk.connect_and_handshake(ctx, timeout=CONNECT_TIMEOUT_SEC)
    except sdk.HandshakeError as exc:
        print(f"The game server refused us: {exc.reason}", file=sys.stderr)
        return 3
    except (OSError, TimeoutError) as exc:
        print(f"Cannot reach the game server at {ctx.host}:{ctx.port}: {exc}", file=sys.stderr)
        return 4
    with conn:
        print(f"Joined as {ctx.player_name} (player {response.get('assigned_player_index', 0) + 1}).")
        try:
            # The server sends "start" then "result" (only "result" if the
            # other player never came); the bound tolerates a few unknown
            # messages from a newer server without looping forever.
            for _ in range(8):
                message = conn.recv_json(timeout=GAME_TIMEOUT_SEC)
                if message.get("type") == "start":
                    others = [name for name in message.get("players", []) if name != ctx.player_name]
                    print(f"Playing against {', '.join(others) or 'nobody'}.")
                    conn.send_json({"type": "number", "value": choose_number(args.number)})
                elif message.get("type") == "result":
                    print(f"Result: {message.get('outcome')} (numbers: {message.get('numbers')})")
                    return 0
        except (OSError, TimeoutError, sdk.ProtocolError, EOFError) as exc:
            print(f"Lost the game server: {exc}", file=sys.stderr)
            return 4
    print("The game server sent no result.", file=sys.stderr)
    return 4


if __name__ == "__main__":
    sys.exit(main())

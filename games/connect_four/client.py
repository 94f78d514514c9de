#!/usr/bin/env python3
"""Connect Four -- game client.

The player's launcher starts it in the player's terminal with ROOM_ID,
MATCH_ID, HOST, PORT, PLAYER_NAME and CLIENT_TOKEN (or CLIENT_TOKEN_PATH).

    python3 client.py              # play at the keyboard: type a column 1-7, q leaves
    python3 client.py --bot        # play automatically (also: GAMESTORE_BOT=1)
    python3 client.py --bot --seed 7

Exit status: 0 after the result (or after leaving on purpose), 2 bad launch
environment, 3 the server refused the handshake, 4 the connection failed or
the match was stopped.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

try:  # vendored next to this file (with gamestore_sdk.py) in a published package
    import gamekit
except ImportError:  # running from the source tree (games/connect_four)
    _root = Path(__file__).resolve().parents[2]
    sys.path[:0] = [str(_root / "sdk" / "python"), str(_root / "games" / "common")]
    import gamekit

from connect_four import COLS, EMPTY, PIECES, Board, choose_column, column_problem

QUIT_WORDS = {"q", "quit", "exit", "leave"}


class ConnectFourClient(gamekit.ClientGame):
    def __init__(self, terminal: gamekit.Terminal, link: gamekit.ServerLink, me: str,
                 rng: Optional[random.Random]) -> None:
        self.terminal = terminal
        self.link = link
        self.me = me
        self.rng = rng  # None: a person plays
        self.players: List[str] = []
        self.board = Board()
        self.turn: Optional[str] = None
        self.move_number = 0
        self.last_move: Optional[Dict[str, Any]] = None
        self.turn_timeout = 0.0
        self.pending = False  # a move was sent and not yet answered
        self.notice = ""  # one line of feedback under the board
        self.winning: List[List[int]] = []

    # ---- helpers -------------------------------------------------------------

    def piece_of(self, name: Optional[str]) -> str:
        return PIECES[self.players.index(name)] if name in self.players else "?"

    def label(self, name: Optional[str]) -> str:
        return f"{name} ({self.piece_of(name)})"

    def cell(self, piece: str, winning: bool) -> str:
        t = self.terminal
        if piece == EMPTY:
            return t.style(".", "dim")
        styles = ["bold", "red" if piece == PIECES[0] else "yellow"]
        if winning:
            if not t.colour:
                return piece.lower()  # plain text: the winning four in lower case
            styles.append("reverse")
        return t.style(piece, *styles)

    def board_lines(self) -> List[str]:
        win = {(row, col) for row, col in self.winning}
        header = "   " + " ".join(str(column) for column in range(1, COLS + 1))
        lines = [header]
        for row, text in enumerate(self.board.rows()):
            cells = " ".join(self.cell(piece, (row, col + 1) in win) for col, piece in enumerate(text))
            lines.append(f"  |{cells}|")
        lines.append("  +" + "-" * (2 * COLS - 1) + "+")
        return lines

    def render(self, footer: Sequence[str] = ()) -> None:
        if self.rng is not None:
            return  # the bot prints one line per move instead of screens
        t = self.terminal
        title = t.style("CONNECT FOUR", "bold", "cyan")
        versus = "  vs  ".join(self.label(name) + (" (you)" if name == self.me else "") for name in self.players)
        lines = [f"  {title}   {versus}", ""] + self.board_lines() + [""]
        if self.last_move:
            mover = self.last_move.get("player")
            lines.append(f"  Move {self.move_number}: {self.label(mover)} dropped in column "
                         f"{self.last_move.get('column')}.")
        if footer:
            lines.extend(footer)
        elif self.turn == self.me:
            lines.append(t.style(f"  Your turn, {self.label(self.me)}.", "bold")
                         + f" You have {self.turn_timeout:g} s per move.")
        elif self.turn:
            lines.append(f"  Waiting for {self.label(self.turn)} to move...")
        if self.notice:
            lines.append(t.style(f"  {self.notice}", "yellow"))
        t.screen(lines)

    def apply_state(self, message: Dict[str, Any]) -> None:
        try:
            self.board = Board(message.get("board") or [])
        except (TypeError, ValueError):
            pass  # keep the last good board; the next state will fix it
        self.turn = message.get("turn")
        self.move_number = int(message.get("move_number") or 0)
        self.last_move = message.get("last_move") if isinstance(message.get("last_move"), dict) else None

    def bot_move(self) -> None:
        assert self.rng is not None
        column = choose_column(self.board, self.piece_of(self.me), self.rng)
        self.terminal.say(f"move {self.move_number + 1}: {self.me} plays column {column}")
        self.pending = self.link.send({"type": "move", "column": column})

    # ---- ClientGame hooks ----------------------------------------------------

    def handle(self, message: Dict[str, Any]) -> Optional[int]:
        kind = message.get("type")
        t = self.terminal
        if kind == "waiting":
            if self.rng is None:
                t.screen(gamekit.waiting_lines(t, "CONNECT FOUR", message))
        elif kind == "start":
            self.players = [str(name) for name in message.get("players") or []]
            self.turn_timeout = float(message.get("turn_timeout_sec") or 0)
            self.idle_limit = max(300.0, 2 * self.turn_timeout + 30)
            if self.rng is not None:
                t.say(f"start: {' vs '.join(self.label(name) for name in self.players)}")
        elif kind == "state":
            self.apply_state(message)
            self.pending = False
            self.notice = ""
            self.render()
            if self.rng is not None and self.turn == self.me:
                self.bot_move()
        elif kind == "rejected":
            self.pending = False
            self.notice = str(message.get("reason") or "The server refused that move.")
            if self.rng is not None:
                t.say(f"rejected: {self.notice}")
                if self.turn == self.me:
                    self.bot_move()
            else:
                self.render()
        elif kind == "game_over":
            self.apply_state(message)
            self.turn = None
            self.winning = [cell for cell in message.get("winning_line") or []
                            if isinstance(cell, list) and len(cell) == 2]
            if self.rng is None:
                self.render(footer=[""] + gamekit.result_lines(t, message, self.me))
            else:
                for line in gamekit.result_lines(t, message, self.me):
                    t.say(line)
            return gamekit.EXIT_OK
        elif kind == "removed":
            t.say(f"You are out of the match: {message.get('reason')}")
            t.say(f"Result: {message.get('outcome', 'QUIT')}")
            return gamekit.EXIT_OK
        elif kind == "aborted":
            t.say(f"The match was stopped: {message.get('reason')}")
            return gamekit.EXIT_LOST
        # Unknown types are ignored: a newer server may send more.
        return None

    def awaiting_input(self) -> bool:
        return self.turn == self.me and not self.pending

    def prompt_text(self) -> str:
        return f"  Column (1-{COLS}, q to leave): "

    def handle_input(self, line: str) -> Optional[int]:
        text = line.strip()
        if text.lower() in QUIT_WORDS:
            self.link.close()
            self.terminal.say("You left the match (it counts as QUIT; your opponent wins).")
            return gamekit.EXIT_OK
        if not text:
            self.terminal.say(f"  Type a column number from 1 to {COLS}, or q to leave.")
            return None
        try:
            column = int(text)
        except ValueError:
            self.terminal.say(f"  {text[:20]!r} is not a column number: type a number from 1 to {COLS}.")
            return None
        problem = column_problem(self.board, column)
        if problem is not None:
            self.terminal.say(f"  {problem}")
            return None
        if not self.link.send({"type": "move", "column": column}):
            self.terminal.say("  Could not send the move: the connection is broken.")
            return gamekit.EXIT_LOST
        self.pending = True
        return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    return gamekit.client_main("Connect Four client", argv, ConnectFourClient)


if __name__ == "__main__":
    sys.exit(main())

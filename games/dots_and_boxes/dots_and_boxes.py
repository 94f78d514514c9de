"""Dots and Boxes rules, shared by the server (authoritative) and the client
(local checks, the bot). No I/O here.

The board is a grid of ``size`` x ``size`` boxes, so ``size + 1`` dots a side.
A line joins two neighbouring dots:

- ``("h", row, col)``: horizontal, from dot (row, col) to dot (row, col + 1);
  row 0..size, col 0..size-1.
- ``("v", row, col)``: vertical, from dot (row, col) to dot (row + 1, col);
  row 0..size-1, col 0..size.

Box (row, col) (both 0..size-1) has the sides h(row, col), h(row + 1, col),
v(row, col) and v(row, col + 1). Drawing the fourth side of a box claims it,
and the player who claimed a box moves again. When every line is drawn, the
player with more boxes wins; equal boxes is a draw.
"""

from __future__ import annotations

import random
from typing import Dict, List, Optional, Sequence, Tuple

DEFAULT_SIZE = 4
MIN_SIZE = 2
MAX_SIZE = 8

Line = Tuple[str, int, int]  # (orientation "h"/"v", row, col)
Box = Tuple[int, int]


class IllegalMove(ValueError):
    """A move the rules forbid; ``str(exc)`` is a sentence for the player."""


def all_lines(size: int) -> List[Line]:
    lines = [("h", row, col) for row in range(size + 1) for col in range(size)]
    lines += [("v", row, col) for row in range(size) for col in range(size + 1)]
    return lines


def line_problem(size: int, orientation: object, row: object, col: object) -> Optional[str]:
    """Why (orientation, row, col) is not a line of the board, or None."""
    if orientation not in ("h", "v"):
        return 'A move needs "orientation": "h" (horizontal) or "v" (vertical).'
    for name, value in (("row", row), ("col", col)):
        if isinstance(value, bool) or not isinstance(value, int):
            return f'A move needs a whole number "{name}".'
    assert isinstance(row, int) and isinstance(col, int)
    rows, cols = (size + 1, size) if orientation == "h" else (size, size + 1)
    if not (0 <= row < rows and 0 <= col < cols):
        kind = "horizontal" if orientation == "h" else "vertical"
        return f"There is no {kind} line at row {row}, column {col} on a {size}x{size} board."
    return None


def sides_of(box: Box) -> List[Line]:
    row, col = box
    return [("h", row, col), ("h", row + 1, col), ("v", row, col), ("v", row, col + 1)]


def boxes_of(size: int, line: Line) -> List[Box]:
    """The one or two boxes a line is a side of."""
    orientation, row, col = line
    if orientation == "h":
        candidates = [(row - 1, col), (row, col)]
    else:
        candidates = [(row, col - 1), (row, col)]
    return [(r, c) for r, c in candidates if 0 <= r < size and 0 <= c < size]


class Board:
    """Lines drawn (and by whom) and boxes claimed (and by whom)."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if not MIN_SIZE <= size <= MAX_SIZE:
            raise ValueError(f"a board is {MIN_SIZE} to {MAX_SIZE} boxes a side")
        self.size = size
        self.lines: Dict[Line, str] = {}  # line -> who drew it
        self.boxes: Dict[Box, str] = {}  # box -> who claimed it

    def copy(self) -> "Board":
        other = Board(self.size)
        other.lines = dict(self.lines)
        other.boxes = dict(self.boxes)
        return other

    def free_lines(self) -> List[Line]:
        return [line for line in all_lines(self.size) if line not in self.lines]

    def full(self) -> bool:
        return len(self.lines) == 2 * self.size * (self.size + 1)

    def sides_drawn(self, box: Box) -> int:
        return sum(1 for side in sides_of(box) if side in self.lines)

    def draw(self, line: Line, player: str) -> List[Box]:
        """Draws ``line`` for ``player``; returns the boxes it completed."""
        self.lines[line] = player
        completed = [box for box in boxes_of(self.size, line) if self.sides_drawn(box) == 4]
        for box in completed:
            self.boxes[box] = player
        return completed

    def to_wire(self) -> Dict[str, object]:
        """``lines``: [{orientation,row,col,player}] in drawing-independent
        order; ``boxes``: size rows of size owners (null: unclaimed)."""
        lines = [{"orientation": o, "row": r, "col": c, "player": self.lines[(o, r, c)]}
                 for (o, r, c) in all_lines(self.size) if (o, r, c) in self.lines]
        boxes = [[self.boxes.get((r, c)) for c in range(self.size)] for r in range(self.size)]
        return {"size": self.size, "lines": lines, "boxes": boxes}

    @classmethod
    def from_wire(cls, message: Dict[str, object]) -> "Board":
        """The board of a ``state`` message; ValueError when it is not one."""
        size = message.get("size")
        if isinstance(size, bool) or not isinstance(size, int):
            raise ValueError("no board size")
        board = cls(size)
        for entry in message.get("lines") or []:
            if not isinstance(entry, dict):
                raise ValueError("a line is an object")
            problem = line_problem(size, entry.get("orientation"), entry.get("row"), entry.get("col"))
            if problem:
                raise ValueError(problem)
            board.lines[(entry["orientation"], entry["row"], entry["col"])] = str(entry.get("player"))
        rows = message.get("boxes") or []
        for r, row in enumerate(rows if isinstance(rows, list) else []):
            for c, owner in enumerate(row if isinstance(row, list) else []):
                if owner is not None and 0 <= r < size and 0 <= c < size:
                    board.boxes[(r, c)] = str(owner)
        return board

    def text(self) -> str:
        """One line for logs: every line as h/v + row + col, drawn ones only,
        e.g. ``h0.1 v2.3``; ``-`` for an empty board."""
        drawn = [f"{o}{r}.{c}" for (o, r, c) in all_lines(self.size) if (o, r, c) in self.lines]
        return " ".join(drawn) or "-"


class DotsAndBoxes:
    """A whole game between two players; the first in seat order moves first."""

    def __init__(self, players: Sequence[str], size: int = DEFAULT_SIZE) -> None:
        if len(players) != 2 or players[0] == players[1]:
            raise ValueError("Dots and Boxes is for two different players")
        self.players = list(players)
        self.board = Board(size)
        self.current = self.players[0]
        self.moves = 0
        self.last_move: Optional[Tuple[str, Line, int]] = None  # (player, line, boxes completed)
        self.forfeited: Optional[str] = None

    @property
    def over(self) -> bool:
        return self.forfeited is not None or self.board.full()

    def score(self, player: str) -> int:
        return sum(1 for owner in self.board.boxes.values() if owner == player)

    def scores(self) -> Dict[str, int]:
        return {name: self.score(name) for name in self.players}

    def other(self, player: str) -> str:
        return self.players[1] if player == self.players[0] else self.players[0]

    @property
    def winner(self) -> Optional[str]:
        if self.forfeited is not None:
            return self.other(self.forfeited)
        if not self.board.full():
            return None
        first, second = (self.score(name) for name in self.players)
        if first == second:
            return None
        return self.players[0] if first > second else self.players[1]

    @property
    def draw(self) -> bool:
        return self.forfeited is None and self.board.full() and self.winner is None

    def play(self, player: str, orientation: object, row: object, col: object) -> List[Box]:
        """Draws a line for ``player``; returns the boxes completed. A player
        who completes a box moves again; otherwise the turn passes."""
        if self.over:
            raise IllegalMove("The game is over.")
        if player != self.current:
            raise IllegalMove(f"It is not your turn: {self.current} is playing.")
        problem = line_problem(self.board.size, orientation, row, col)
        if problem:
            raise IllegalMove(problem)
        line = (str(orientation), int(row), int(col))  # type: ignore[arg-type]
        if line in self.board.lines:
            raise IllegalMove("That line is already drawn: choose another one.")
        completed = self.board.draw(line, player)
        self.moves += 1
        self.last_move = (player, line, len(completed))
        if not completed:
            self.current = self.other(player)
        return completed

    def forfeit(self, player: str) -> None:
        """``player`` left: the other player wins."""
        if self.forfeited is None and not self.board.full():
            self.forfeited = player


def _boxes_given_away(board: Board, line: Line) -> int:
    """How many boxes the opponent can take in a row after ``line`` is drawn
    (greedily completing boxes, as a player would)."""
    trial = board.copy()
    trial.draw(line, "?")
    taken = 0
    # Bounded: every iteration draws one more line.
    while True:
        takers = [free for free in trial.free_lines()
                  if any(trial.sides_drawn(box) == 3 for box in boxes_of(trial.size, free))]
        if not takers:
            return taken
        taken += len(trial.draw(takers[0], "!"))


def choose_line(board: Board, rng: random.Random) -> Line:
    """The bot's move: complete a box when it can; else a random line that
    gives nothing away (no box gets its third side); else the line that gives
    the opponent the fewest boxes."""
    free = board.free_lines()
    if not free:
        raise ValueError("the board is full")
    completing = [line for line in free
                  if any(board.sides_drawn(box) == 3 for box in boxes_of(board.size, line))]
    if completing:
        return rng.choice(completing)
    safe = [line for line in free
            if all(board.sides_drawn(box) < 2 for box in boxes_of(board.size, line))]
    if safe:
        return rng.choice(safe)
    costs = [(_boxes_given_away(board, line), index) for index, line in enumerate(free)]
    fewest = min(cost for cost, _ in costs)
    return free[rng.choice([index for cost, index in costs if cost == fewest])]

"""Connect Four rules, shared by the server (authoritative) and the client
(local checks for friendlier messages, and the bot). No I/O here.

The board has 6 rows and 7 columns. Columns are numbered 1-7 everywhere a
person or the wire sees them; rows are indexed 0 (top) to 5 (bottom)
internally. A piece dropped in a column falls to the lowest empty cell.
Four in a row (horizontally, vertically or diagonally) wins; a full board
without four in a row is a draw.
"""

from __future__ import annotations

import random
from typing import List, Optional, Sequence, Tuple

ROWS = 6
COLS = 7
EMPTY = "."
PIECES = ("X", "O")  # player 1 (moves first), player 2

Cell = Tuple[int, int]  # (row, column index 0-6)


class IllegalMove(ValueError):
    """A move the rules forbid; ``str(exc)`` is a sentence for the player."""


def column_problem(board: "Board", column: object) -> Optional[str]:
    """Why ``column`` (as typed or sent: 1-7) cannot be played, or None if it can."""
    if isinstance(column, bool) or not isinstance(column, int):
        return f"A move needs a whole column number from 1 to {COLS}."
    if not 1 <= column <= COLS:
        return f"Column {column} does not exist: choose 1-{COLS}."
    if board.column_full(column):
        return f"Column {column} is full: choose another column."
    return None


class Board:
    """A 6x7 grid of ``EMPTY`` or a piece."""

    def __init__(self, rows: Optional[Sequence[str]] = None) -> None:
        if rows is None:
            self.grid: List[List[str]] = [[EMPTY] * COLS for _ in range(ROWS)]
            return
        if len(rows) != ROWS or any(len(row) != COLS for row in rows):
            raise ValueError(f"a board is {ROWS} rows of {COLS} cells")
        allowed = {EMPTY, *PIECES}
        if any(cell not in allowed for row in rows for cell in row):
            raise ValueError(f"board cells must be one of {''.join(sorted(allowed))}")
        self.grid = [list(row) for row in rows]

    def copy(self) -> "Board":
        return Board(self.rows())

    def rows(self) -> List[str]:
        """The board as 6 strings of 7 characters, top row first (the wire format)."""
        return ["".join(row) for row in self.grid]

    def column_full(self, column: int) -> bool:
        return self.grid[0][column - 1] != EMPTY

    def legal_columns(self) -> List[int]:
        return [column for column in range(1, COLS + 1) if not self.column_full(column)]

    def is_full(self) -> bool:
        return not self.legal_columns()

    def drop(self, column: int, piece: str) -> int:
        """Drop ``piece`` into ``column`` (1-7); returns the row it landed in."""
        problem = column_problem(self, column)
        if problem is not None:
            raise IllegalMove(problem)
        index = column - 1
        for row in range(ROWS - 1, -1, -1):
            if self.grid[row][index] == EMPTY:
                self.grid[row][index] = piece
                return row
        raise AssertionError("column_problem() said the column had room")

    def line_through(self, row: int, col: int) -> Optional[List[Cell]]:
        """The run of 4 or more equal pieces through (row, col), if any.
        Only lines through the last move need checking after a drop."""
        piece = self.grid[row][col]
        if piece == EMPTY:
            return None
        for d_row, d_col in ((0, 1), (1, 0), (1, 1), (1, -1)):
            cells = [(row, col)]
            for sign in (1, -1):
                r, c = row + sign * d_row, col + sign * d_col
                while 0 <= r < ROWS and 0 <= c < COLS and self.grid[r][c] == piece:
                    cells.append((r, c))
                    r, c = r + sign * d_row, c + sign * d_col
            if len(cells) >= 4:
                return sorted(cells)
        return None

    def wins_with(self, column: int, piece: str) -> bool:
        """Would dropping ``piece`` in ``column`` make four in a row?"""
        if self.column_full(column):
            return False
        trial = self.copy()
        row = trial.drop(column, piece)
        return trial.line_through(row, column - 1) is not None


class ConnectFour:
    """One game between two named players; player 1 (``X``) moves first.

    :meth:`play` is the only way to change it and raises
    :class:`IllegalMove` with a sentence for the player when a move is not
    allowed. :meth:`forfeit` ends the game when a player leaves.
    """

    def __init__(self, players: Sequence[str]) -> None:
        if len(players) != 2 or players[0] == players[1]:
            raise ValueError("Connect Four needs two different players")
        self.players: Tuple[str, str] = (players[0], players[1])
        self.board = Board()
        self.turn = 0  # index into players
        self.moves = 0
        self.moves_by = {players[0]: 0, players[1]: 0}
        self.last_move: Optional[Tuple[str, int, int]] = None  # (player, column 1-7, row)
        self.winner: Optional[str] = None
        self.winning_line: Optional[List[Cell]] = None
        self.draw = False
        self.forfeited: Optional[str] = None  # the player who left, if the game ended that way

    @property
    def over(self) -> bool:
        return self.winner is not None or self.draw

    @property
    def current(self) -> str:
        return self.players[self.turn]

    def piece_of(self, player: str) -> str:
        return PIECES[self.players.index(player)]

    def opponent_of(self, player: str) -> str:
        return self.players[1 - self.players.index(player)]

    def play(self, player: str, column: object) -> int:
        """``player`` drops a piece in ``column``; returns the row. Raises IllegalMove."""
        if self.over:
            raise IllegalMove("The game is over.")
        if player not in self.players:
            raise IllegalMove(f"{player} is not playing in this game.")
        if player != self.current:
            raise IllegalMove(f"It is not your turn: waiting for {self.current}.")
        problem = column_problem(self.board, column)
        if problem is not None:
            raise IllegalMove(problem)
        assert isinstance(column, int)
        row = self.board.drop(column, PIECES[self.turn])
        self.moves += 1
        self.moves_by[player] += 1
        self.last_move = (player, column, row)
        line = self.board.line_through(row, column - 1)
        if line is not None:
            self.winner = player
            self.winning_line = line
        elif self.board.is_full():
            self.draw = True
        else:
            self.turn = 1 - self.turn
        return row

    def forfeit(self, player: str) -> None:
        """``player`` left: the other player wins (if the game was still on)."""
        if self.over:
            return
        self.forfeited = player
        self.winner = self.opponent_of(player)


def choose_column(board: Board, me: str, rng: random.Random) -> int:
    """The bot: win if it can, block the opponent's immediate win, else a
    random column, preferring columns that do not hand the opponent a win
    in the cell just above. Deterministic for a given ``rng`` state."""
    legal = board.legal_columns()
    if not legal:
        raise IllegalMove("The board is full.")
    them = PIECES[1 - PIECES.index(me)]
    for column in legal:
        if board.wins_with(column, me):
            return column
    for column in legal:
        if board.wins_with(column, them):
            return column
    safe = []
    for column in legal:
        trial = board.copy()
        trial.drop(column, me)
        if not (not trial.column_full(column) and trial.wins_with(column, them)):
            safe.append(column)
    return rng.choice(safe or legal)

"""Connect Four rules, scoring and bot, without processes."""

from __future__ import annotations

import random
import unittest

from gamesupport import load_module, sdk

c4 = load_module("connect_four", "connect_four")
server = load_module("connect_four", "server")

E = "......."


def board(*rows: str) -> "c4.Board":
    """A board from its bottom rows (top rows are empty), written top to bottom."""
    return c4.Board([E] * (c4.ROWS - len(rows)) + list(rows))


def play_columns(game: "c4.ConnectFour", columns: list) -> None:
    for column in columns:
        game.play(game.current, column)


class BoardTest(unittest.TestCase):
    def test_pieces_fall_to_the_lowest_empty_cell(self) -> None:
        b = c4.Board()
        self.assertEqual(b.drop(4, "X"), 5)
        self.assertEqual(b.drop(4, "O"), 4)
        self.assertEqual(b.rows()[5], "...X...")
        self.assertEqual(b.rows()[4], "...O...")

    def test_full_column_and_out_of_range_columns_are_refused_with_a_sentence(self) -> None:
        b = c4.Board()
        for _ in range(c4.ROWS):
            b.drop(1, "X")
        self.assertTrue(b.column_full(1))
        self.assertEqual(b.legal_columns(), [2, 3, 4, 5, 6, 7])
        with self.assertRaisesRegex(c4.IllegalMove, r"^Column 1 is full: choose another column\.$"):
            b.drop(1, "O")
        self.assertEqual(c4.column_problem(b, 9), "Column 9 does not exist: choose 1-7.")
        self.assertEqual(c4.column_problem(b, 0), "Column 0 does not exist: choose 1-7.")
        for nonsense in ("3", 3.0, True, None, [3]):
            self.assertEqual(c4.column_problem(b, nonsense), "A move needs a whole column number from 1 to 7.")
        self.assertIsNone(c4.column_problem(b, 7))

    def test_board_rows_are_validated(self) -> None:
        with self.assertRaises(ValueError):
            c4.Board(["......."] * 5)
        with self.assertRaises(ValueError):
            c4.Board(["......Z"] + ["......."] * 5)

    def test_lines_in_every_direction_are_detected(self) -> None:
        cases = {
            "horizontal": (board("XXXX..."), (5, 0)),
            "horizontal at the right edge": (board("...XXXX"), (5, 6)),
            "vertical": (board("X......", "X......", "X......", "X......"), (2, 0)),
            "diagonal up-right": (board("...X...", "..XO...", ".XOO...", "XOOO..."), (2, 3)),
            "diagonal up-left": (board("X......", "OX.....", "OOX....", "OOOX..."), (5, 3)),
        }
        for name, (b, (row, col)) in cases.items():
            with self.subTest(name):
                line = b.line_through(row, col)
                self.assertIsNotNone(line)
                self.assertGreaterEqual(len(line), 4)
                self.assertTrue(all(b.grid[r][c] == "X" for r, c in line))

    def test_three_in_a_row_or_a_broken_line_is_not_a_win(self) -> None:
        self.assertIsNone(board("XXX.X..").line_through(5, 0))
        self.assertIsNone(board("XXXO...").line_through(5, 2))
        self.assertIsNone(board("X......", "X......", "X......").line_through(3, 0))
        self.assertIsNone(board().line_through(5, 0))  # an empty cell is never a line


class GameTest(unittest.TestCase):
    def test_players_alternate_and_x_moves_first(self) -> None:
        game = c4.ConnectFour(["alice", "bob"])
        self.assertEqual(game.current, "alice")
        self.assertEqual(game.piece_of("alice"), "X")
        game.play("alice", 4)
        self.assertEqual(game.current, "bob")
        self.assertEqual(game.last_move, ("alice", 4, 5))

    def test_moves_out_of_turn_or_by_strangers_are_illegal(self) -> None:
        game = c4.ConnectFour(["alice", "bob"])
        with self.assertRaisesRegex(c4.IllegalMove, "not your turn: waiting for alice"):
            game.play("bob", 1)
        with self.assertRaisesRegex(c4.IllegalMove, "not playing"):
            game.play("mallory", 1)
        with self.assertRaisesRegex(c4.IllegalMove, "Column 8 does not exist"):
            game.play("alice", 8)
        self.assertEqual(game.moves, 0)  # nothing changed
        self.assertEqual(game.current, "alice")

    def test_vertical_win_ends_the_game(self) -> None:
        game = c4.ConnectFour(["alice", "bob"])
        play_columns(game, [1, 2, 1, 2, 1, 2, 1])
        self.assertTrue(game.over)
        self.assertEqual(game.winner, "alice")
        self.assertEqual(game.winning_line, [(2, 0), (3, 0), (4, 0), (5, 0)])
        with self.assertRaisesRegex(c4.IllegalMove, "game is over"):
            game.play("bob", 3)

    def test_a_full_board_without_four_is_a_draw(self) -> None:
        # Columns filled in pairs, shifted so no four ever line up.
        game = c4.ConnectFour(["alice", "bob"])
        order = [1, 2] * 3 + [2, 1] * 3 + [3, 4] * 3 + [4, 3] * 3 + [5, 6] * 3 + [6, 5] * 3 + [7] * 6
        play_columns(game, order)
        self.assertTrue(game.board.is_full())
        self.assertTrue(game.draw)
        self.assertIsNone(game.winner)
        self.assertEqual(game.moves, 42)

    def test_forfeit_gives_the_game_to_the_other_player(self) -> None:
        game = c4.ConnectFour(["alice", "bob"])
        game.play("alice", 3)
        game.forfeit("alice")
        self.assertEqual((game.winner, game.forfeited), ("bob", "alice"))
        game.forfeit("bob")  # the game is already over: nothing changes
        self.assertEqual(game.winner, "bob")


class ScoringTest(unittest.TestCase):
    def outcomes(self, game: "c4.ConnectFour", departures: dict) -> dict:
        results = server.results_for(game, departures)
        sdk.normalize_results(results, list(game.players))  # always a valid END payload
        return {r.player: (r.outcome, r.rank, r.score) for r in results}

    def test_win_lose_draw_and_quit(self) -> None:
        won = c4.ConnectFour(["alice", "bob"])
        play_columns(won, [1, 2, 1, 2, 1, 2, 1])
        self.assertEqual(self.outcomes(won, {}), {"alice": ("WIN", 1, 1), "bob": ("LOSE", 2, 0)})

        quit_game = c4.ConnectFour(["alice", "bob"])
        quit_game.forfeit("bob")
        self.assertEqual(self.outcomes(quit_game, {"bob": "QUIT"}), {"alice": ("WIN", 1, 1), "bob": ("QUIT", 2, 0)})

        drawn = c4.ConnectFour(["alice", "bob"])
        drawn.draw = True
        self.assertEqual(self.outcomes(drawn, {}), {"alice": ("DRAW", 1, 0.5), "bob": ("DRAW", 1, 0.5)})

    def test_end_reason_names_what_happened(self) -> None:
        game = c4.ConnectFour(["alice", "bob"])
        game.forfeit("bob")
        self.assertEqual(server.end_reason(game, {"bob": "disconnected"}), "bob left the game (disconnected); alice wins.")


class BotTest(unittest.TestCase):
    def test_takes_a_winning_move(self) -> None:
        b = board("XXX.OO.")
        self.assertEqual(c4.choose_column(b, "X", random.Random(1)), 4)

    def test_blocks_the_opponent(self) -> None:
        b = board("OOO.X..")
        for seed in range(20):
            self.assertEqual(c4.choose_column(b, "X", random.Random(seed)), 4)

    def test_prefers_winning_to_blocking(self) -> None:
        b = board("O......", "O......", "OXXX...")
        self.assertEqual(c4.choose_column(b, "X", random.Random(0)), 5)

    def test_does_not_set_up_the_opponent(self) -> None:
        # O has three in row 4 (columns 1-3); the cell that completes it sits
        # above the empty bottom cell of column 4. X playing column 4 would
        # let O win on the next move, so no seed may choose it.
        b = board("OOO....", "XOX....")
        self.assertFalse(any(b.wins_with(column, piece) for column in b.legal_columns() for piece in "XO"))
        chosen = {c4.choose_column(b, "X", random.Random(seed)) for seed in range(40)}
        self.assertNotIn(4, chosen)
        self.assertGreater(len(chosen), 1)  # still random among the safe columns
        self.assertTrue(chosen <= set(b.legal_columns()))

    def test_same_seed_same_game(self) -> None:
        def game_with(seed: int) -> list:
            rng = random.Random(seed)
            game = c4.ConnectFour(["a", "b"])
            columns = []
            while not game.over:
                column = c4.choose_column(game.board, game.piece_of(game.current), rng)
                columns.append(column)
                game.play(game.current, column)
            return columns

        self.assertEqual(game_with(5), game_with(5))
        self.assertLessEqual(len(game_with(6)), 42)


if __name__ == "__main__":
    unittest.main()

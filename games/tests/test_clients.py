"""The clients' terminal side without a server: screen output on a TTY and
off it, the non-blocking keyboard reader, and input validation messages."""

from __future__ import annotations

import io
import os
import unittest
from typing import Any, Dict, List

from gamesupport import load_module

import gamekit

c4_client = load_module("connect_four", "client")
ld_client = load_module("liars_dice", "client")


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeLink:
    """Records what a client would send to the server."""

    def __init__(self) -> None:
        self.sent: List[Dict[str, Any]] = []
        self.closed = False

    def send(self, message: Dict[str, Any]) -> bool:
        self.sent.append(message)
        return True

    def close(self) -> None:
        self.closed = True


class TerminalTest(unittest.TestCase):
    def test_a_pipe_gets_plain_text(self) -> None:
        out = io.StringIO()
        terminal = gamekit.Terminal(out, env={"TERM": "xterm-256color"})
        self.assertFalse(terminal.ansi or terminal.colour)
        terminal.screen([terminal.style("X", "red", "bold"), "line"])
        self.assertEqual(out.getvalue(), "\nX\nline\n")

    def test_a_terminal_gets_a_redraw_and_colours(self) -> None:
        out = FakeTty()
        terminal = gamekit.Terminal(out, env={"TERM": "xterm"})
        terminal.screen([terminal.style("X", "red")])
        self.assertTrue(out.getvalue().startswith("\x1b[H\x1b[2J"))
        self.assertIn("\x1b[31mX\x1b[0m", out.getvalue())

    def test_no_color_and_dumb_terminals_are_respected(self) -> None:
        no_colour = gamekit.Terminal(FakeTty(), env={"TERM": "xterm", "NO_COLOR": "1"})
        self.assertTrue(no_colour.ansi)
        self.assertEqual(no_colour.style("X", "red"), "X")
        dumb = gamekit.Terminal(FakeTty(), env={"TERM": "dumb"})
        self.assertFalse(dumb.ansi or dumb.colour)

    def test_bot_switches(self) -> None:
        self.assertTrue(gamekit.bot_requested(True, env={}))
        self.assertTrue(gamekit.bot_requested(False, env={"GAMESTORE_BOT": "1"}))
        self.assertFalse(gamekit.bot_requested(False, env={"GAMESTORE_BOT": "0"}))
        self.assertEqual(gamekit.bot_seed(None, env={"GAMESTORE_BOT_SEED": "42"}), 42)
        self.assertEqual(gamekit.bot_seed(7, env={"GAMESTORE_BOT_SEED": "42"}), 7)
        self.assertIsNone(gamekit.bot_seed(None, env={"GAMESTORE_BOT_SEED": "many"}))


class LineReaderTest(unittest.TestCase):
    def test_lines_arrive_one_at_a_time_and_eof_is_reported(self) -> None:
        read_fd, write_fd = os.pipe()
        self.addCleanup(os.close, read_fd)
        reader = gamekit.LineReader(read_fd)
        self.assertIsNone(reader.poll(0))  # nothing typed yet: no blocking
        os.write(write_fd, b"3\n  liar \npart")
        self.assertEqual(reader.poll(1.0), "3")
        self.assertEqual(reader.poll(1.0), "liar")  # the second line was already read: not lost
        self.assertIsNone(reader.poll(0))  # "part" has no newline yet
        os.write(write_fd, b"ial\n")
        self.assertEqual(reader.poll(1.0), "partial")
        os.close(write_fd)
        with self.assertRaises(EOFError):
            reader.poll(1.0)


class ConnectFourInputTest(unittest.TestCase):
    def setUp(self) -> None:
        self.out = io.StringIO()
        self.link = FakeLink()
        self.client = c4_client.ConnectFourClient(gamekit.Terminal(self.out, env={}), self.link, "alice", None)
        self.client.handle({"type": "start", "players": ["alice", "bob"], "turn_timeout_sec": 120})
        rows = ["X......"] * 6  # column 1 is full
        self.client.handle({"type": "state", "board": rows, "turn": "alice", "move_number": 6, "last_move": None})

    def test_the_board_and_whose_turn_are_shown(self) -> None:
        text = self.out.getvalue()
        self.assertIn("   1 2 3 4 5 6 7", text)
        self.assertIn("  |X . . . . . .|", text)
        self.assertIn("Your turn, alice (X).", text)
        self.assertNotIn("\x1b", text)
        self.assertTrue(self.client.awaiting_input())

    def test_bad_input_is_explained_and_never_sent(self) -> None:
        for typed, message in (("9", "Column 9 does not exist: choose 1-7."),
                               ("0", "Column 0 does not exist: choose 1-7."),
                               ("1", "Column 1 is full: choose another column."),
                               ("abc", "'abc' is not a column number: type a number from 1 to 7."),
                               ("", "Type a column number from 1 to 7, or q to leave.")):
            with self.subTest(typed=typed):
                self.assertIsNone(self.client.handle_input(typed))
                self.assertIn(message, self.out.getvalue())
        self.assertEqual(self.link.sent, [])

    def test_a_good_column_is_sent_once(self) -> None:
        self.assertIsNone(self.client.handle_input(" 4 "))
        self.assertEqual(self.link.sent, [{"type": "move", "column": 4}])
        self.assertFalse(self.client.awaiting_input())  # until the server answers

    def test_q_leaves(self) -> None:
        self.assertEqual(self.client.handle_input("q"), gamekit.EXIT_OK)
        self.assertTrue(self.link.closed)

    def test_the_result_screen(self) -> None:
        status = self.client.handle({
            "type": "game_over", "outcome": "LOSE", "rank": 2, "winner": "bob", "reason": "bob connected four in a row.",
            "board": ["......."] * 2 + ["O......"] * 4, "turn": None, "move_number": 7,
            "winning_line": [[2, 1], [3, 1], [4, 1], [5, 1]],
            "results": [{"player": "alice", "outcome": "LOSE", "rank": 2}, {"player": "bob", "outcome": "WIN", "rank": 1}],
        })
        self.assertEqual(status, gamekit.EXIT_OK)
        text = self.out.getvalue()
        self.assertIn("Game over: You lose.", text)
        self.assertIn("  |o . . . . . .|", text)  # the winning four, in lower case without colour
        self.assertIn("Result: LOSE (rank 2 of 2)", text)


class LiarsDiceInputTest(unittest.TestCase):
    def setUp(self) -> None:
        self.out = io.StringIO()
        self.link = FakeLink()
        self.client = ld_client.LiarsDiceClient(gamekit.Terminal(self.out, env={}), self.link, "ann", None)
        self.client.handle({"type": "start", "players": ["ann", "ben", "cat"], "wild_ones": True,
                            "turn_timeout_sec": 60})
        self.client.handle({"type": "round", "round": 1, "dice": [1, 2, 4, 4, 6], "starter": "ann"})
        self.state(bid=None)

    def state(self, bid: Any, bidder: Any = None, turn: str = "ann") -> None:
        self.client.handle({"type": "state", "round": 1, "turn": turn, "bid": bid, "bidder": bidder, "history": [],
                            "players": [{"name": n, "dice": 5, "status": "in"} for n in ("ann", "ben", "cat")],
                            "total_dice": 15})

    def test_parse_bid_accepts_the_usual_spellings(self) -> None:
        for text in ("3 5", "3x5", "3 x 5", "bid 3 5", "3 5s", "3*5", "3,5"):
            self.assertEqual(ld_client.parse_bid(text), (3, 5), text)
        for text in ("3", "three fives", "3 5 6", "-3 5", ""):
            self.assertIsNone(ld_client.parse_bid(text), text)

    def test_the_screen_shows_dice_players_and_turn(self) -> None:
        text = self.out.getvalue()
        self.assertIn("Your dice: [1] [2] [4] [4] [6]", text)
        self.assertIn("> ann", text)
        self.assertIn("15 dice in play", text)
        self.assertIn("Your turn.", text)

    def test_bad_input_is_explained_and_never_sent(self) -> None:
        for typed, message in (("liar", "There is no bid to challenge yet"),
                               ("3 1", "Ones are wild and cannot be bid"),
                               ("3 9", "Face 9 does not exist: choose a face from 2 to 6."),
                               ("20 3", "There are only 15 dice in play"),
                               ("hello", "'hello' is not a bid")):
            with self.subTest(typed=typed):
                self.assertIsNone(self.client.handle_input(typed))
                self.assertIn(message, self.out.getvalue())
        self.state(bid={"quantity": 3, "face": 4}, bidder="cat")
        self.client.handle_input("3 3")
        self.assertIn("Your bid must beat 3 x 4", self.out.getvalue())
        self.assertEqual(self.link.sent, [])

    def test_bids_and_challenges_are_sent(self) -> None:
        self.client.handle_input("2 4")
        self.assertEqual(self.link.sent, [{"type": "bid", "quantity": 2, "face": 4}])
        self.state(bid={"quantity": 3, "face": 4}, bidder="cat")
        self.client.handle_input("LIAR")
        self.assertEqual(self.link.sent[-1], {"type": "liar"})

    def test_help_explains_the_rules(self) -> None:
        self.client.handle_input("help")
        self.assertIn("Ones are wild", self.out.getvalue())
        self.assertEqual(self.link.sent, [])


if __name__ == "__main__":
    unittest.main()

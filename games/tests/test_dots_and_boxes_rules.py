"""Dots and Boxes rules, scoring, bot and window layout, without processes."""

from __future__ import annotations

import random
import unittest

from gamesupport import load_module

dab = load_module("dots_and_boxes", "dots_and_boxes")
server = load_module("dots_and_boxes", "server")
client = load_module("dots_and_boxes", "client")  # pygame is imported only when a window opens


def play_lines(game: "dab.DotsAndBoxes", lines: list) -> None:
    for line in lines:
        game.play(game.current, *line)


class RulesTest(unittest.TestCase):
    def test_a_board_has_every_line_once(self) -> None:
        for size in range(dab.MIN_SIZE, dab.MAX_SIZE + 1):
            lines = dab.all_lines(size)
            self.assertEqual(len(lines), 2 * size * (size + 1))
            self.assertEqual(len(set(lines)), len(lines))
            for line in lines:
                self.assertIsNone(dab.line_problem(size, *line))
                self.assertIn(len(dab.boxes_of(size, line)), (1, 2))

    def test_the_fourth_side_claims_the_box_and_the_player_moves_again(self) -> None:
        game = dab.DotsAndBoxes(["ann", "bob"], 2)
        play_lines(game, [("h", 0, 0), ("h", 1, 0), ("v", 0, 0)])  # ann, bob, ann
        self.assertEqual(game.current, "bob")
        self.assertEqual(game.play("bob", "v", 0, 1), [(0, 0)])
        self.assertEqual(game.current, "bob")  # a box: bob plays again
        self.assertEqual(game.scores(), {"ann": 0, "bob": 1})
        self.assertEqual(game.last_move, ("bob", ("v", 0, 1), 1))
        game.play("bob", "h", 2, 1)
        self.assertEqual(game.current, "ann")  # nothing completed: the turn passes

    def test_one_line_can_complete_two_boxes(self) -> None:
        game = dab.DotsAndBoxes(["ann", "bob"], 2)
        board = game.board
        for line in [("h", 0, 0), ("h", 1, 0), ("v", 0, 0), ("h", 0, 1), ("h", 1, 1), ("v", 0, 2)]:
            board.draw(line, "x")
        self.assertEqual(sorted(game.play("ann", "v", 0, 1)), [(0, 0), (0, 1)])
        self.assertEqual(game.score("ann"), 2)

    def test_illegal_moves_are_explained(self) -> None:
        game = dab.DotsAndBoxes(["ann", "bob"], 3)
        game.play("ann", "h", 0, 0)
        cases = [
            (("ann", "h", 0, 1), "not your turn"),
            (("bob", "h", 0, 0), "already drawn"),
            (("bob", "d", 0, 0), "orientation"),
            (("bob", "h", 4, 0), "no horizontal line at row 4"),
            (("bob", "v", 0, 4), "no vertical line"),
            (("bob", "h", "0", 1), "whole number"),
            (("bob", "h", 0, True), "whole number"),
        ]
        for args, words in cases:
            with self.subTest(args=args):
                with self.assertRaisesRegex(dab.IllegalMove, words):
                    game.play(*args)
        self.assertEqual(game.moves, 1)

    def test_more_boxes_wins_and_equal_boxes_is_a_draw(self) -> None:
        for seed in range(50):
            rng = random.Random(seed)
            game = dab.DotsAndBoxes(["ann", "bob"], 2)
            while not game.over:
                game.play(game.current, *dab.choose_line(game.board, rng))
            ann, bob = game.score("ann"), game.score("bob")
            self.assertEqual(ann + bob, 4)
            self.assertEqual(game.draw, ann == bob)
            self.assertEqual(game.winner, None if ann == bob else ("ann" if ann > bob else "bob"))
            results = {r.player: r for r in server.results_for(game, {})}
            if game.draw:
                self.assertEqual({r.outcome for r in results.values()}, {"DRAW"})
                self.assertIn("it's a draw", server.end_reason(game, {}))
            else:
                self.assertEqual(results[game.winner].outcome, "WIN")
                self.assertEqual(results[game.winner].extra["boxes"], max(ann, bob))

    def test_a_player_who_leaves_loses(self) -> None:
        game = dab.DotsAndBoxes(["ann", "bob"])
        game.play("ann", "h", 0, 0)
        game.forfeit("bob")
        self.assertTrue(game.over)
        self.assertEqual(game.winner, "ann")
        results = {r.player: r.outcome for r in server.results_for(game, {"bob": "QUIT"})}
        self.assertEqual(results, {"ann": "WIN", "bob": "QUIT"})
        self.assertEqual(server.end_reason(game, {"bob": "disconnected"}), "bob left the game (disconnected); ann wins.")

    def test_the_wire_board_round_trips(self) -> None:
        game = dab.DotsAndBoxes(["ann", "bob"], 3)
        rng = random.Random(4)
        for _ in range(12):
            game.play(game.current, *dab.choose_line(game.board, rng))
        message = server.state_message(game)
        again = dab.Board.from_wire(message)
        self.assertEqual(again.lines, game.board.lines)
        self.assertEqual(again.boxes, game.board.boxes)
        self.assertEqual(again.text(), game.board.text())
        with self.assertRaises(ValueError):
            dab.Board.from_wire({"size": 3, "lines": [{"orientation": "h", "row": 9, "col": 0}]})


class BotTest(unittest.TestCase):
    def test_the_bot_takes_a_box_when_it_can(self) -> None:
        board = dab.Board(3)
        for line in [("h", 1, 1), ("h", 2, 1), ("v", 1, 1)]:
            board.draw(line, "x")
        self.assertEqual(dab.choose_line(board, random.Random(1)), ("v", 1, 2))

    def test_the_bot_gives_nothing_away_while_it_can(self) -> None:
        for seed in range(40):
            rng = random.Random(seed)
            board = dab.Board(4)
            while True:
                safe = [line for line in board.free_lines()
                        if all(board.sides_drawn(box) < 2 for box in dab.boxes_of(4, line))]
                takeable = any(board.sides_drawn(box) == 3 for box in ((r, c) for r in range(4) for c in range(4)))
                if not safe or takeable:
                    break
                line = dab.choose_line(board, rng)
                self.assertIn(line, safe)
                board.draw(line, "x")

    def test_bot_games_always_finish_with_legal_moves(self) -> None:
        for seed in range(30):
            rng = random.Random(seed)
            game = dab.DotsAndBoxes(["ann", "bob"], 3 + seed % 3)
            while not game.over:
                game.play(game.current, *dab.choose_line(game.board, rng))
            self.assertEqual(sum(game.scores().values()), game.board.size ** 2)


class LayoutTest(unittest.TestCase):
    def test_every_line_is_found_under_its_midpoint_and_fits_the_window(self) -> None:
        for size in range(dab.MIN_SIZE, dab.MAX_SIZE + 1):
            layout = client.Layout(size)
            for line in dab.all_lines(size):
                x, y = layout.midpoint(line)
                self.assertTrue(0 < x < client.WINDOW_SIZE[0] and 0 < y < client.WINDOW_SIZE[1])
                self.assertEqual(layout.nearest_line((x + 2, y - 2)), line)
            self.assertLess(layout.board_bottom() + 60, client.WINDOW_SIZE[1])
            self.assertIsNone(layout.nearest_line(layout.box_centre(0, 0)))


if __name__ == "__main__":
    unittest.main()

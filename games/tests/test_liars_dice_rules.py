"""Liar's Dice rules, scoring and bot, without processes."""

from __future__ import annotations

import random
import unittest

from gamesupport import load_module, sdk

ld = load_module("liars_dice", "liars_dice")
server = load_module("liars_dice", "server")
Bid = ld.Bid


def new_game(players=("ann", "ben", "cat"), **options) -> "ld.LiarsDice":
    game = ld.LiarsDice(list(players), rng=random.Random(1), **options)
    game.start()
    return game


class BidOrderTest(unittest.TestCase):
    def test_a_bid_beats_by_quantity_or_by_face_at_equal_quantity(self) -> None:
        self.assertTrue(Bid(1, 2).beats(None))
        self.assertTrue(Bid(3, 4).beats(Bid(3, 3)))
        self.assertTrue(Bid(4, 2).beats(Bid(3, 6)))
        self.assertFalse(Bid(3, 4).beats(Bid(3, 4)))
        self.assertFalse(Bid(3, 2).beats(Bid(3, 6)))
        self.assertFalse(Bid(2, 6).beats(Bid(3, 2)))

    def test_illegal_bids_get_a_sentence_saying_why(self) -> None:
        problem = ld.bid_problem
        self.assertIsNone(problem(3, 5, Bid(3, 4), 15, True))
        self.assertEqual(problem(3, 4, Bid(3, 4), 15, True),
                         "Your bid must beat 3 x 4: bid more than 3 dice, or 3 dice of a face higher than 4.")
        self.assertEqual(problem(3, 5, Bid(3, 6), 15, True), "Your bid must beat 3 x 6: bid more than 3 dice.")
        self.assertEqual(problem(3, 1, None, 15, True),
                         "Ones are wild and cannot be bid: choose a face from 2 to 6.")
        self.assertIsNone(problem(3, 1, None, 15, False))  # without wild ones, ones are a face
        self.assertEqual(problem(3, 7, None, 15, True), "Face 7 does not exist: choose a face from 2 to 6.")
        self.assertEqual(problem(3, 0, None, 15, False), "Face 0 does not exist: choose a face from 1 to 6.")
        self.assertEqual(problem(0, 3, None, 15, True), "A bid needs at least one die.")
        self.assertEqual(problem(16, 3, None, 15, True), "There are only 15 dice in play: bid at most 15.")
        for quantity, face in (("3", 4), (3, 4.0), (True, 4), (None, None)):
            self.assertEqual(problem(quantity, face, None, 15, True),
                             "A bid needs two whole numbers: how many dice, and which face.")

    def test_ones_count_for_every_face_only_when_wild(self) -> None:
        dice = [1, 1, 2, 5, 6]
        self.assertEqual(ld.count_matching(dice, 5, True), 3)
        self.assertEqual(ld.count_matching(dice, 5, False), 1)
        self.assertEqual(ld.count_matching(dice, 1, False), 2)


class ChallengeTest(unittest.TestCase):
    def setUp(self) -> None:
        self.game = new_game()
        self.game.dice = {"ann": [1, 2, 3, 4, 5], "ben": [2, 2, 6, 6, 6], "cat": [3, 3, 4, 5, 5]}
        # Twos on the table, ones wild: ann 2, ben 2, cat 0 -> 4.

    def test_a_true_bid_costs_the_challenger_a_die_and_the_challenger_starts(self) -> None:
        self.game.place_bid("ann", 4, 2)
        reveal = self.game.call_liar("ben")
        self.assertEqual((reveal.count, reveal.loser, reveal.eliminated), (4, "ben", False))
        self.assertEqual(reveal.dice["ben"], [2, 2, 6, 6, 6])  # the dice of the round that ended
        self.assertEqual(self.game.dice_count, {"ann": 5, "ben": 4, "cat": 5})
        self.assertEqual((self.game.round, self.game.turn, self.game.bid), (2, "ben", None))
        self.assertEqual(len(self.game.dice["ben"]), 4)  # re-rolled with one die fewer
        self.assertEqual(self.game.challenges_won["ann"], 1)

    def test_a_false_bid_costs_the_bidder_a_die(self) -> None:
        self.game.place_bid("ann", 3, 6)
        self.game.place_bid("ben", 5, 2)
        reveal = self.game.call_liar("cat")
        self.assertEqual((reveal.count, reveal.loser), (4, "ben"))
        self.assertEqual(self.game.dice_count["ben"], 4)
        self.assertEqual(self.game.turn, "ben")

    def test_without_wild_ones_only_the_face_counts(self) -> None:
        game = new_game(wild_ones=False)
        game.dice = {"ann": [1, 2, 3, 4, 5], "ben": [2, 2, 6, 6, 6], "cat": [3, 3, 4, 5, 5]}
        game.place_bid("ann", 4, 2)
        reveal = game.call_liar("ben")
        self.assertEqual((reveal.count, reveal.loser), (3, "ann"))

    def test_turns_follow_seat_order_and_wrong_actions_are_refused(self) -> None:
        game = self.game
        with self.assertRaisesRegex(ld.IllegalMove, "no bid to challenge yet"):
            game.call_liar("ann")
        with self.assertRaisesRegex(ld.IllegalMove, "not your turn: waiting for ann"):
            game.place_bid("ben", 1, 2)
        game.place_bid("ann", 1, 2)
        self.assertEqual(game.turn, "ben")
        with self.assertRaisesRegex(ld.IllegalMove, "must beat 1 x 2"):
            game.place_bid("ben", 1, 2)
        game.place_bid("ben", 2, 2)
        game.place_bid("cat", 2, 3)
        self.assertEqual(game.turn, "ann")  # wraps around
        self.assertEqual([(name, str(bid)) for name, bid in game.history],
                         [("ann", "1 x 2"), ("ben", "2 x 2"), ("cat", "2 x 3")])
        with self.assertRaisesRegex(ld.IllegalMove, "only 15 dice"):
            game.place_bid("ann", 16, 2)


class EliminationTest(unittest.TestCase):
    def test_last_player_with_dice_wins_and_ranks_follow_elimination_order(self) -> None:
        game = new_game(("ann", "ben", "cat"), dice_per_player=1)
        game.dice = {"ann": [6], "ben": [6], "cat": [6]}
        game.place_bid("ann", 3, 2)  # there are no twos: a lie
        reveal = game.call_liar("ben")
        self.assertEqual((reveal.loser, reveal.eliminated), ("ann", True))
        self.assertEqual(game.active, ["ben", "cat"])
        self.assertEqual(game.turn, "ben")  # the next player still in after ann starts
        game.dice = {"ann": [], "ben": [4], "cat": [5]}
        game.place_bid("ben", 1, 5)  # true: cat has a five
        with self.assertRaisesRegex(ld.IllegalMove, "out of the game"):
            game.place_bid("ann", 2, 5)
        reveal = game.call_liar("cat")
        self.assertEqual((reveal.loser, reveal.eliminated), ("cat", True))
        self.assertTrue(game.over)
        self.assertEqual(game.winner, "ben")
        self.assertIsNone(game.turn)
        self.assertEqual(game.exit_order, [["ann"], ["cat"]])
        self.assertEqual(game.standings(), [("ann", "LOSE", 3, 0), ("ben", "WIN", 1, 2), ("cat", "LOSE", 2, 1)])
        with self.assertRaisesRegex(ld.IllegalMove, "game is over"):
            game.place_bid("ben", 1, 2)

    def test_eliminated_players_are_skipped_in_turn_order(self) -> None:
        game = new_game(("ann", "ben", "cat", "dan"))
        game.dice_count["ben"] = 0
        game._eliminate(["ben"], "LOSE")
        game.place_bid("ann", 1, 2)
        self.assertEqual(game.turn, "cat")
        self.assertEqual(game.next_active_after("dan"), "ann")
        self.assertEqual(game.next_active_after("ben"), "cat")

    def test_a_leaver_is_out_and_the_round_is_replayed(self) -> None:
        game = new_game(("ann", "ben", "cat", "dan"))
        game.place_bid("ann", 2, 3)
        self.assertEqual(game.turn, "ben")
        self.assertTrue(game.remove("dan", "QUIT"))  # not on turn: ben keeps the turn
        self.assertEqual((game.round, game.turn, game.bid, game.history), (2, "ben", None, []))
        self.assertEqual(game.dice["dan"], [])
        self.assertTrue(game.remove("ben", "ERROR"))  # on turn: the next player starts
        self.assertEqual((game.round, game.turn), (3, "cat"))
        self.assertEqual(game.total_dice, 10)
        self.assertTrue(game.remove("cat"))
        self.assertEqual(game.winner, "ann")
        self.assertFalse(game.remove("ann"))  # the game is over
        ranks = {name: (outcome, rank) for name, outcome, rank, _ in game.standings()}
        self.assertEqual(ranks, {"ann": ("WIN", 1), "cat": ("QUIT", 2), "ben": ("ERROR", 3), "dan": ("QUIT", 4)})

    def test_an_eliminated_player_leaving_changes_nothing(self) -> None:
        game = new_game(("ann", "ben", "cat"), dice_per_player=1)
        game.dice = {"ann": [6], "ben": [6], "cat": [6]}
        game.place_bid("ann", 3, 2)
        game.call_liar("ben")
        round_before = game.round
        self.assertFalse(game.remove("ann"))
        self.assertEqual(game.outcomes["ann"], "LOSE")
        self.assertEqual(game.round, round_before)

    def test_absent_players_go_out_together_before_the_first_roll(self) -> None:
        game = ld.LiarsDice(["ann", "ben", "cat", "dan"], rng=random.Random(2))
        game.start({"ben": "QUIT", "dan": "ERROR"})
        self.assertEqual(game.active, ["ann", "cat"])
        self.assertEqual(game.exit_order, [["ben", "dan"]])
        self.assertEqual(game.turn, "ann")
        game.remove("cat")
        ranks = {name: (outcome, rank, score) for name, outcome, rank, score in game.standings()}
        self.assertEqual(ranks, {"ann": ("WIN", 1, 3), "cat": ("QUIT", 2, 2),
                                 "ben": ("QUIT", 3, 0), "dan": ("ERROR", 3, 0)})

    def test_a_lone_player_wins_at_once(self) -> None:
        game = ld.LiarsDice(["ann", "ben", "cat"], rng=random.Random(2))
        game.start({"ben": "QUIT", "cat": "QUIT"})
        self.assertTrue(game.over)
        self.assertEqual(game.winner, "ann")

    def test_rank_by_exit(self) -> None:
        self.assertEqual(ld.rank_by_exit(["a", "b", "c", "d"], [["b", "d"], ["a"]]), {"c": 1, "a": 2, "b": 3, "d": 3})
        self.assertEqual(ld.rank_by_exit(["a", "b"], []), {"a": 1, "b": 1})


class ServerResultsTest(unittest.TestCase):
    def test_finish_reports_every_player_with_a_valid_result(self) -> None:
        game = new_game(("ann", "ben", "cat"), dice_per_player=1)
        game.remove("ben")
        game.remove("cat", "ERROR")
        end = server.finish(game, {})
        normalized = sdk.normalize_results(end.results, ["ann", "ben", "cat"])
        self.assertEqual({r["player"]: (r["outcome"], r["rank"]) for r in normalized},
                         {"ann": ("WIN", 1), "cat": ("ERROR", 2), "ben": ("QUIT", 3)})
        self.assertEqual(end.winner, "ann")
        self.assertEqual(end.reason, "ann is the last player left.")
        self.assertEqual(set(end.final_messages), {"ann", "ben", "cat"})
        self.assertEqual(end.final_messages["ann"]["outcome"], "WIN")

    def test_nobody_joined(self) -> None:
        game = ld.LiarsDice(["ann", "ben", "cat"], rng=random.Random(2))
        game.start({"ann": "QUIT", "ben": "QUIT", "cat": "QUIT"})
        end = server.finish(game, {})
        self.assertEqual([(r.outcome, r.rank) for r in end.results], [("QUIT", None)] * 3)
        self.assertIsNone(end.winner)


class BotTest(unittest.TestCase):
    def test_the_bot_always_chooses_a_legal_action(self) -> None:
        rng = random.Random(11)
        for wild in (True, False):
            for _ in range(3000):
                mine = [rng.randint(1, 6) for _ in range(rng.randint(1, 5))]
                total = len(mine) + rng.randint(1, 30)
                current = None
                if rng.random() < 0.8:
                    current = Bid(rng.randint(1, total), rng.randint(ld.lowest_face(wild), 6))
                action, bid = ld.choose_action(mine, current, total, wild, rng)
                if action == "liar":
                    self.assertIsNotNone(current, "the bot called liar on no bid")
                else:
                    self.assertEqual(action, "bid")
                    self.assertIsNone(ld.bid_problem(bid.quantity, bid.face, current, total, wild),
                                      (mine, current, total, wild, bid))

    def test_the_bot_calls_an_impossible_bid(self) -> None:
        for seed in range(20):
            action, _ = ld.choose_action([2, 2, 2, 2, 2], Bid(10, 6), 10, True, random.Random(seed))
            self.assertEqual(action, "liar")

    def test_the_bot_raises_a_modest_bid_it_can_support(self) -> None:
        action, bid = ld.choose_action([5, 5, 5, 1, 1], Bid(2, 5), 20, True, random.Random(3))
        self.assertEqual((action, bid), ("bid", Bid(3, 5)))

    def test_bots_finish_a_whole_game(self) -> None:
        players = [f"p{i}" for i in range(8)]
        game = ld.LiarsDice(players, rng=random.Random(4))
        game.start()
        rng = random.Random(5)
        for _ in range(10_000):  # bound: 35 dice must be lost, each round ends within ~240 bids
            if game.over:
                break
            action, bid = ld.choose_action(game.dice[game.turn], game.bid, game.total_dice, game.wild_ones, rng)
            if action == "liar":
                game.call_liar(game.turn)
            else:
                game.place_bid(game.turn, bid.quantity, bid.face)
        self.assertTrue(game.over)
        self.assertIsNotNone(game.winner)
        self.assertEqual(sorted(rank for _, _, rank, _ in game.standings()), list(range(1, 9)))
        self.assertEqual(game.total_dice, game.dice_count[game.winner])


if __name__ == "__main__":
    unittest.main()

"""Liar's Dice end to end: the assembled package's server and clients as
real processes against a fake control plane."""

from __future__ import annotations

import unittest
from typing import Any, Dict, List

from gamesupport import MatchTestCase, load_module

ld = load_module("liars_dice", "liars_dice")


class LiarsDiceMatchTest(MatchTestCase):
    GAME = "liars_dice"

    def assert_elimination_results(self, end: Dict[str, Any], quitters: List[str] = ()) -> Dict[str, Any]:
        """Exactly one WIN at rank 1; every rank 1..N once; leavers QUIT."""
        results = self.by_player(end)
        winners = [name for name, entry in results.items() if entry["outcome"] == "WIN"]
        self.assertEqual(len(winners), 1, end)
        self.assertEqual(end["winner"], winners[0])
        self.assertEqual(results[winners[0]]["rank"], 1)
        self.assertEqual(sorted(entry["rank"] for entry in results.values()), list(range(1, len(results) + 1)))
        for name, entry in results.items():
            expected = "QUIT" if name in quitters else ("WIN" if name == winners[0] else "LOSE")
            self.assertEqual(entry["outcome"], expected, entry)
            self.assertEqual(entry["score"], len(results) - entry["rank"])  # players outlasted
        return results

    def play_bots(self, players: List[str], server_args: List[str]) -> None:
        server = self.start_server(players, server_args)
        bots = [self.start_bot(name, seed, via_env=seed % 2 == 1) for seed, name in enumerate(players)]
        end = self.end_report()
        results = self.assert_elimination_results(end)
        self.assertIn("is the last player with dice", end["reason"])
        for name, bot in zip(players, bots):
            self.assertEqual(self.wait_exit(bot, name), 0, self.logs(name))
            self.assertIn(f"Result: {results[name]['outcome']} (rank {results[name]['rank']} of {len(players)})",
                          self.logs(name))
        self.assertEqual(self.wait_exit(server, "server"), 0, self.logs("server"))
        self.assert_no_tokens_in_logs(["server"] + players)

    def test_three_bots_play_a_whole_match(self) -> None:
        self.play_bots(["ann", "ben", "cat"], ["--seed", "1"])

    def test_eight_bots_play_a_whole_match(self) -> None:
        self.play_bots([f"player{i}" for i in range(1, 9)], ["--seed", "2"])

    def test_illegal_actions_are_rejected_and_challenges_are_resolved_honestly(self) -> None:
        server = self.start_server(["ann", "ben", "cat"], ["--seed", "3"])
        ann, ben, cat = (self.raw_player(name) for name in ("ann", "ben", "cat"))
        start = ann.expect("start")
        self.assertEqual((start["dice_per_player"], start["wild_ones"]), (5, True))
        rolled = {player.name: player.expect("round", round=1)["dice"] for player in (ann, ben, cat)}
        for dice in rolled.values():
            self.assertEqual(len(dice), 5)
            self.assertTrue(all(1 <= die <= 6 for die in dice))
        ann.expect("state", turn="ann")

        def rejected(player, message, reason_part: str) -> None:
            if isinstance(message, bytes):
                player.send_line(message)
            else:
                player.send(message)
            self.assertIn(reason_part, player.expect("rejected")["reason"])

        rejected(ann, {"type": "liar"}, "There is no bid to challenge yet")
        rejected(ben, {"type": "bid", "quantity": 2, "face": 3}, "It is not your turn: waiting for ann.")
        rejected(ann, {"type": "bid", "quantity": 2, "face": 7}, "Face 7 does not exist: choose a face from 2 to 6.")
        rejected(ann, {"type": "bid", "quantity": 2, "face": 1}, "Ones are wild")
        rejected(ann, {"type": "bid", "quantity": 16, "face": 3}, "There are only 15 dice in play")
        rejected(ann, {"type": "bid", "quantity": "2", "face": 3}, "two whole numbers")
        rejected(ann, {"type": "fold"}, "Unknown message type")
        rejected(ann, b"{broken", "not understood")

        ann.send({"type": "bid", "quantity": 2, "face": 3})
        state = cat.expect("state", turn="ben")
        self.assertEqual((state["bid"], state["bidder"]), ({"quantity": 2, "face": 3}, "ann"))
        rejected(ben, {"type": "bid", "quantity": 2, "face": 3}, "Your bid must beat 2 x 3")
        rejected(ben, {"type": "bid", "quantity": 1, "face": 6}, "Your bid must beat 2 x 3")
        ben.send({"type": "bid", "quantity": 2, "face": 4})
        cat.expect("state", turn="cat")
        cat.send({"type": "liar"})

        reveal = ann.expect("reveal")
        self.assertEqual(reveal["dice"], rolled)  # what was shown is what each player was dealt
        count = sum(ld.count_matching(dice, 4, True) for dice in rolled.values())
        self.assertEqual(reveal["count"], count)
        self.assertEqual(reveal["loser"], "cat" if count >= 2 else "ben")
        self.assertEqual((reveal["challenger"], reveal["bidder"], reveal["round"]), ("cat", "ben", 1))
        next_round = ann.expect("state", round=2)
        self.assertEqual(next_round["turn"], reveal["loser"])  # the loser starts
        counts = {row["name"]: row["dice"] for row in next_round["players"]}
        self.assertEqual(counts[reveal["loser"]], 4)
        self.assertEqual(next_round["total_dice"], 14)

        ann.close()
        left = cat.expect("player_left", player="ann")
        self.assertEqual((left["outcome"], left["round_restarted"]), ("QUIT", True))
        ben.close()
        self.assertEqual(cat.expect("game_over")["outcome"], "WIN")
        end = self.end_report()
        self.assertEqual({name: (e["outcome"], e["rank"]) for name, e in self.by_player(end).items()},
                         {"cat": ("WIN", 1), "ben": ("QUIT", 2), "ann": ("QUIT", 3)})
        self.assertEqual(self.wait_exit(server, "server"), 0, self.logs("server"))

    def test_a_player_who_disconnects_is_out_and_the_others_play_on(self) -> None:
        server = self.start_server(["ann", "ben", "cat"], ["--seed", "4"])
        ann = self.start_bot("ann", 1)
        ben = self.start_bot("ben", 2)
        cat = self.raw_player("cat")
        cat.expect("round")
        cat.close()  # gone mid-game, whatever the bots are doing
        end = self.end_report()
        results = self.assert_elimination_results(end, quitters=["cat"])
        self.assertEqual(results["cat"]["rank"], 3)
        for name, bot in (("ann", ann), ("ben", ben)):
            self.assertEqual(self.wait_exit(bot, name), 0, self.logs(name))
            self.assertIn("cat left the game", self.logs(name))
        self.assertEqual(self.wait_exit(server, "server"), 0, self.logs("server"))

    def test_a_player_who_does_not_act_in_time_is_out(self) -> None:
        server = self.start_server(["ann", "ben", "cat"], ["--turn-timeout", "1", "--seed", "5"])
        ann = self.raw_player("ann")  # first in seat order: starts round 1, then says nothing
        bots = [self.start_bot("ben", 6), self.start_bot("cat", 7)]
        ann.expect("state", turn="ann")
        removed = ann.expect("removed")
        self.assertEqual(removed["outcome"], "QUIT")
        self.assertIn("did not act within 1 s", removed["reason"])
        ann.expect_closed()
        end = self.end_report()
        results = self.assert_elimination_results(end, quitters=["ann"])
        self.assertEqual(results["ann"]["rank"], 3)
        for name, bot in zip(("ben", "cat"), bots):
            self.assertEqual(self.wait_exit(bot, name), 0, self.logs(name))
        self.assertEqual(self.wait_exit(server, "server"), 0, self.logs("server"))

    def test_a_player_who_never_joins_is_out_from_the_start(self) -> None:
        players = ["ann", "ben", "cat", "dan"]
        server = self.start_server(players, ["--join-timeout", "1", "--dice", "2", "--seed", "6"])
        bots = [self.start_bot(name, seed) for seed, name in enumerate(players[:3])]
        end = self.end_report()
        results = self.assert_elimination_results(end, quitters=["dan"])
        self.assertEqual(results["dan"]["rank"], 4)
        for name, bot in zip(players, bots):
            self.assertEqual(self.wait_exit(bot, name), 0, self.logs(name))
            self.assertIn("Not here: dan.", self.logs(name))
        self.assertEqual(self.wait_exit(server, "server"), 0, self.logs("server"))

    def test_bad_options_are_refused_before_anything_starts(self) -> None:
        env = self.base_env()
        server = self.spawn("server", env, ["--dice", "11"])
        self.assertEqual(self.wait_exit(server, "server"), 2)
        self.assertIn("dice per player must be 1-10", self.logs("server"))
        self.assertEqual(self.fake.drain(), [])


if __name__ == "__main__":
    unittest.main()

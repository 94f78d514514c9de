"""Dots and Boxes end to end: the assembled package's server and window
clients (bots; without a display they draw off-screen) as real processes
against a fake control plane."""

from __future__ import annotations

import signal
import subprocess
import unittest

from gamesupport import MatchTestCase

PLAYERS = ["alice", "bob"]
FAST = ["--bot-delay", "0"]


def pygame_installed() -> bool:
    """The client runs /usr/bin/python3 (its manifest says so), whatever runs the tests."""
    try:
        return subprocess.run(["/usr/bin/python3", "-c", "import pygame"], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@unittest.skipUnless(pygame_installed(), "pygame is not installed (ci/bootstrap installs python3-pygame)")
class DotsAndBoxesMatchTest(MatchTestCase):
    GAME = "dots_and_boxes"

    def start_window_bot(self, player: str, seed: int):
        return self.spawn("client", self.client_env(player), ["--bot", "--seed", str(seed)] + FAST, log=player)

    def test_two_bots_play_a_whole_match_and_log_every_board(self) -> None:
        server = self.start_server(PLAYERS, ["--size", "3"])
        alice = self.start_window_bot("alice", 1)
        bob = self.start_window_bot("bob", 2)
        end = self.end_report()
        results = self.by_player(end)
        outcomes = sorted(entry["outcome"] for entry in results.values())
        self.assertIn(outcomes, (["LOSE", "WIN"], ["DRAW", "DRAW"]), end)
        self.assertEqual(sum(entry["extra"]["boxes"] for entry in results.values()), 9)
        self.assertEqual(end["stats"]["moves"], 24)
        for process, name in ((alice, "alice"), (bob, "bob"), (server, "server")):
            self.assertEqual(self.wait_exit(process, name), 0, self.logs(name))
        for name in PLAYERS:
            text = self.logs(name)
            self.assertIn('window: "Dots and Boxes - ' + name + '"', text)
            self.assertIn("display=none", text)
            self.assertIn("start: alice (blue) vs bob (red), 3x3 boxes", text)
            self.assertIn("state: move=0 turn=alice", text)
            final = [line for line in text.splitlines() if line.startswith("final: ")]
            self.assertEqual(len(final), 1, text)
            self.assertIn("move=24 turn=-", final[0])
            self.assertIn(f"Result: {results[name]['outcome']}", text)
        self.assert_no_tokens_in_logs(["server", "alice", "bob"])

    def test_a_person_without_a_display_is_told_so(self) -> None:
        self.start_server(PLAYERS)
        person = self.spawn("client", self.client_env("alice"), log="alice")
        self.assertEqual(self.wait_exit(person, "alice"), 2)
        self.assertIn("there is no display", self.logs("alice"))

    def test_the_window_says_when_the_server_goes_away(self) -> None:
        server = self.start_server(PLAYERS, ["--turn-timeout", "60"])
        alice = self.start_window_bot("alice", 3)
        bob = self.raw_player("bob")  # joins and never moves: the match stays in play
        bob.expect("state")
        server.send_signal(signal.SIGKILL)  # gone without a word
        self.assertEqual(self.wait_exit(alice, "alice"), 4, self.logs("alice"))
        self.assertIn("lost: Lost the game server", self.logs("alice"))


if __name__ == "__main__":
    unittest.main()

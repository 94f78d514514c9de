"""Connect Four end to end: the assembled package's server and clients as
real processes against a fake control plane."""

from __future__ import annotations

import dataclasses
import signal
import unittest

from gamesupport import MatchTestCase, client_context, sdk

PLAYERS = ["alice", "bob"]


class ConnectFourMatchTest(MatchTestCase):
    GAME = "connect_four"

    def test_two_bots_play_a_whole_match(self) -> None:
        for seed in (1, 2):
            with self.subTest(seed=seed):
                self.fake.drain()
                server = self.start_server(PLAYERS)
                alice = self.start_bot("alice", seed)
                bob = self.start_bot("bob", seed + 100, via_env=True)  # GAMESTORE_BOT=1, argv unchanged
                end = self.end_report()
                results = self.by_player(end)
                outcomes = sorted(entry["outcome"] for entry in results.values())
                self.assertIn(outcomes, (["LOSE", "WIN"], ["DRAW", "DRAW"]), end)
                for entry in results.values():
                    expected = {"WIN": (1, 1), "LOSE": (2, 0), "DRAW": (1, 0.5)}[entry["outcome"]]
                    self.assertEqual((entry["rank"], entry["score"]), expected, entry)
                if outcomes == ["LOSE", "WIN"]:
                    winner = next(name for name, entry in results.items() if entry["outcome"] == "WIN")
                    self.assertEqual(end["winner"], winner)
                    self.assertIn(f"{winner} connected four in a row", end["reason"])
                self.assertEqual(results["alice"]["extra"]["piece"], "X")
                self.assertEqual(self.wait_exit(alice, "alice"), 0, self.logs("alice"))
                self.assertEqual(self.wait_exit(bob, "bob"), 0, self.logs("bob"))
                self.assertEqual(self.wait_exit(server, "server"), 0, self.logs("server"))
                for name in PLAYERS:
                    self.assertIn(f"Result: {results[name]['outcome']}", self.logs(name))
                    self.assertNotIn("\x1b", self.logs(name))  # not a TTY: no escape codes
                self.assert_no_tokens_in_logs(["server", "alice", "bob"])

    def test_a_client_killed_mid_game_loses_and_the_other_player_wins(self) -> None:
        server = self.start_server(PLAYERS)
        alice = self.start_human("alice")  # the real client, its keyboard a pipe
        bob = self.raw_player("bob")
        bob.expect("state", turn="alice")
        assert alice.stdin is not None
        alice.stdin.write(b"9\n")  # checked by the client itself: never sent
        alice.stdin.write(b"4\n")
        alice.stdin.flush()
        state = bob.expect("state", turn="bob")
        self.assertEqual(state["last_move"], {"player": "alice", "column": 4, "row": 5})
        self.assertEqual(state["move_number"], 1)
        bob.send({"type": "move", "column": 4})
        bob.expect("state", turn="alice", move_number=2)

        alice.kill()  # mid-game, while the client waits for its player's move
        alice.wait()
        over = bob.expect("game_over")
        self.assertEqual((over["outcome"], over["rank"], over["winner"]), ("WIN", 1, "bob"))
        self.assertIn("alice left the game", over["reason"])
        end = self.end_report()
        self.assertEqual(self.by_player(end)["alice"]["outcome"], "QUIT")
        self.assertEqual(self.by_player(end)["alice"]["rank"], 2)
        self.assertEqual(self.by_player(end)["bob"]["outcome"], "WIN")
        self.assertEqual(self.by_player(end)["bob"]["rank"], 1)
        self.assertEqual(end["winner"], "bob")
        self.assertEqual(self.wait_exit(server, "server"), 0, self.logs("server"))
        text = self.logs("alice")
        self.assertIn("Column 9 does not exist: choose 1-7.", text)
        self.assertIn("Your turn, alice (X).", text)
        self.assertNotIn("\x1b", text)

    def test_illegal_moves_are_rejected_and_the_server_carries_on(self) -> None:
        server = self.start_server(PLAYERS)
        with self.assertRaises(sdk.HandshakeError) as refused:  # a wrong token takes no seat
            intruder = dataclasses.replace(client_context(self.port, "alice"), client_token="ct-wrong-000000")
            sdk.connect_and_handshake(intruder, timeout=5.0)
        self.assertIn("client_token", refused.exception.reason)
        alice = self.raw_player("alice")
        bob = self.raw_player("bob")
        self.assertEqual((alice.handshake["assigned_player_index"], bob.handshake["assigned_player_index"]), (0, 1))
        start = alice.expect("start")
        self.assertEqual((start["players"], start["pieces"], start["columns"]), (PLAYERS, ["X", "O"], 7))
        alice.expect("state", turn="alice")

        def rejected(player, message, reason_part: str) -> None:
            if isinstance(message, bytes):
                player.send_line(message)
            else:
                player.send(message)
            reply = player.expect("rejected")
            self.assertIn(reason_part, reply["reason"])

        rejected(alice, {"type": "move", "column": 9}, "Column 9 does not exist: choose 1-7.")
        rejected(alice, {"type": "move", "column": 0}, "Column 0 does not exist")
        rejected(bob, {"type": "move", "column": 1}, "It is not your turn: waiting for alice.")
        rejected(alice, b"this is not json", "not understood")
        rejected(alice, {"type": "move", "column": "3"}, "whole column number")
        rejected(alice, {"type": "hello"}, "Unknown message type")
        for move in range(6):  # alternate in column 1 until it is full (X O X O X O: no four)
            player = alice if move % 2 == 0 else bob
            player.send({"type": "move", "column": 1})
            alice.expect("state", move_number=move + 1)
        rejected(alice, {"type": "move", "column": 1}, "Column 1 is full: choose another column.")
        alice.send({"type": "move", "column": 2})
        state = bob.expect("state", move_number=7)
        self.assertEqual(state["board"][0], "O......")
        self.assertEqual(state["board"][5], "XX.....")

        bob.close()
        over = alice.expect("game_over")
        self.assertEqual(over["outcome"], "WIN")
        end = self.end_report()
        self.assertEqual({name: entry["outcome"] for name, entry in self.by_player(end).items()},
                         {"alice": "WIN", "bob": "QUIT"})
        self.assertEqual(self.wait_exit(server, "server"), 0, self.logs("server"))

    def test_a_client_that_breaks_the_protocol_is_out_with_error(self) -> None:
        cases = {
            "an oversized line": lambda raw: raw.conn.raw_socket.sendall(b"x" * 70_000 + b"\n"),
            "endless invalid messages": lambda raw: [raw.send({"type": "move", "column": 99}) for _ in range(101)],
        }
        for case, misbehave in cases.items():
            with self.subTest(case):
                self.fake.drain()
                server = self.start_server(PLAYERS)
                alice = self.raw_player("alice")
                bob = self.raw_player("bob")
                bob.expect("state")
                alice.expect("state")
                misbehave(alice)
                over = bob.expect("game_over")
                self.assertEqual(over["outcome"], "WIN")
                end = self.end_report()
                self.assertEqual({name: entry["outcome"] for name, entry in self.by_player(end).items()},
                                 {"alice": "ERROR", "bob": "WIN"})
                self.assertEqual(self.wait_exit(server, "server"), 0, self.logs("server"))
                alice.close()

    def test_a_player_who_does_not_move_in_time_is_out(self) -> None:
        server = self.start_server(PLAYERS, ["--turn-timeout", "1"])
        alice = self.raw_player("alice")
        bob = self.raw_player("bob")
        self.assertEqual(alice.expect("start")["turn_timeout_sec"], 1)
        removed = alice.expect("removed")
        self.assertEqual(removed["outcome"], "QUIT")
        self.assertIn("did not move within 1 s", removed["reason"])
        alice.expect_closed()
        self.assertEqual(bob.expect("game_over")["outcome"], "WIN")
        end = self.end_report()
        self.assertEqual(self.by_player(end)["alice"]["outcome"], "QUIT")
        self.assertEqual(self.wait_exit(server, "server"), 0, self.logs("server"))

    def test_a_player_who_never_joins_loses_by_forfeit(self) -> None:
        server = self.start_server(PLAYERS, ["--join-timeout", "1"])
        alice = self.start_bot("alice", 3)
        end = self.end_report()
        self.assertEqual({name: (e["outcome"], e["rank"]) for name, e in self.by_player(end).items()},
                         {"alice": ("WIN", 1), "bob": ("QUIT", 2)})
        self.assertIn("never joined", end["reason"])
        self.assertEqual(self.wait_exit(alice, "alice"), 0, self.logs("alice"))
        self.assertIn("Result: WIN", self.logs("alice"))
        self.assertEqual(self.wait_exit(server, "server"), 0, self.logs("server"))

    def test_sigterm_stops_the_match_and_tells_the_players(self) -> None:
        server = self.start_server(PLAYERS)
        alice = self.raw_player("alice")
        bob = self.raw_player("bob")
        alice.expect("state")
        bob.expect("state")
        server.send_signal(signal.SIGTERM)
        for player in (alice, bob):
            self.assertEqual(player.expect("aborted")["reason"], "The platform stopped the match.")
        self.assertEqual(self.wait_exit(server, "server"), 0, self.logs("server"))
        statuses = {report.get("status") for report in self.fake.drain()}
        self.assertTrue(statuses <= {"HEARTBEAT"}, statuses)  # no END for a platform-initiated stop


if __name__ == "__main__":
    unittest.main()

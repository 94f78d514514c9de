"""Reporter against a fake control-plane endpoint."""

from __future__ import annotations

import math
import queue
import unittest
from typing import Any, Optional

from support import MATCH_ID, REPORT_TOKEN, ROOM_ID, FakeControlPlane, sdk, server_context, unused_port

HEARTBEAT = 0.2  # seconds; the tests' heartbeat interval


class ReporterTest(unittest.TestCase):
    def setUp(self) -> None:
        self.fake = FakeControlPlane()
        self.addCleanup(self.fake.close)

    def reporter(
        self, fake: Optional[FakeControlPlane] = None, *, interval: float = 5.0, **kwargs: Any
    ) -> sdk.Reporter:
        endpoint = fake or self.fake
        reporter = sdk.Reporter(server_context(endpoint.port, heartbeat_interval_sec=interval), **kwargs)
        self.addCleanup(reporter.close, 1.0)
        return reporter

    def assert_common_fields(self, message: dict, status: str) -> None:
        self.assertEqual(message["type"], "GAME.REPORT")
        self.assertEqual(message["status"], status)
        self.assertIs(type(message["room_id"]), int)
        self.assertEqual(message["room_id"], ROOM_ID)
        self.assertEqual(message["report_token"], REPORT_TOKEN)
        self.assertEqual(message["match_id"], MATCH_ID)
        self.assertIsInstance(message["timestamp"], float)
        self.assertGreater(message["timestamp"], 1.6e9)  # unix seconds, not monotonic

    def test_started_carries_port_and_protocol_version(self) -> None:
        reporter = self.reporter(game="HigherNumber")
        reporter.started(40123)
        received = self.fake.next()
        self.assert_common_fields(received.message, "STARTED")
        self.assertEqual(received.message["port"], 40123)
        self.assertEqual(received.message["protocol_version"], 1)
        self.assertEqual(received.message["game"], "HigherNumber")
        self.assertTrue(reporter.flush(5.0))
        self.assertEqual(reporter.rejections, [])
        self.assertEqual(reporter.delivered, 1)

    def test_started_defaults_to_the_context_port_and_is_sent_once(self) -> None:
        reporter = self.reporter()
        reporter.started()
        self.assertEqual(self.fake.next().message["port"], 40000)
        with self.assertRaises(RuntimeError):
            reporter.started()
        with self.assertRaises(ValueError):
            self.reporter().started(0)
        any_port = sdk.Reporter(server_context(self.fake.port, port=0))
        self.addCleanup(any_port.close, 1.0)
        with self.assertRaises(ValueError) as caught:
            any_port.started()  # PORT=0: only the caller knows the bound port
        self.assertIn("PORT is 0", str(caught.exception))

    def test_heartbeats_follow_started_at_the_configured_interval(self) -> None:
        reporter = self.reporter(interval=HEARTBEAT)
        reporter.started()
        first = self.fake.next()
        self.assertEqual(first.message["status"], "STARTED")  # nothing before STARTED
        beats = [self.fake.next(5.0) for _ in range(5)]
        for beat in beats:
            self.assert_common_fields(beat.message, "HEARTBEAT")
            self.assertEqual(beat.message["ts"], beat.message["timestamp"])
            self.assertEqual(beat.conn_id, first.conn_id)  # one persistent connection
        stamps = [first.message["timestamp"]] + [beat.message["timestamp"] for beat in beats]
        gaps = [later - earlier for earlier, later in zip(stamps, stamps[1:])]
        # Loose band: never early (scheduled from the previous send), and on
        # a loaded machine still far from a missed-heartbeat kill (5 x interval).
        self.assertGreaterEqual(min(gaps), HEARTBEAT * 0.75, gaps)
        self.assertLess(sum(gaps) / len(gaps), HEARTBEAT * 5, gaps)
        self.assertEqual(self.fake.connections, 1)

    def test_no_heartbeat_before_started(self) -> None:
        reporter = self.reporter(interval=HEARTBEAT)
        with self.assertRaises(queue.Empty):
            self.fake.received.get(timeout=HEARTBEAT * 4)
        reporter.started()
        self.assertEqual(self.fake.next().message["status"], "STARTED")

    def test_stop_heartbeats_stops_them(self) -> None:
        reporter = self.reporter(interval=HEARTBEAT)
        reporter.started()
        self.fake.wait_for("HEARTBEAT", 5.0)
        reporter.stop_heartbeats()
        self.assertTrue(reporter.flush(5.0))
        self.fake.drain()  # anything made before stop_heartbeats() is delivered by now
        with self.assertRaises(queue.Empty):
            self.fake.received.get(timeout=HEARTBEAT * 5)

    def test_end_sends_validated_results_and_stops_heartbeats(self) -> None:
        reporter = self.reporter(interval=HEARTBEAT)
        reporter.started()
        reporter.end(
            [
                sdk.PlayerResult("alice", "WIN", rank=1, score=10, extra={"moves": 3}),
                {"player": "bob", "outcome": "LOSE", "rank": 2, "score": 2.5, "player_id": 12},
            ],
            winner="alice",
            reason="highest number wins",
            stats={"rounds": 1},
        )
        end, _ = self.fake.wait_for("END")
        self.assert_common_fields(end.message, "END")
        self.assertEqual(
            end.message["results"],
            [
                {"player": "alice", "outcome": "WIN", "rank": 1, "score": 10, "extra": {"moves": 3}},
                {"player": "bob", "outcome": "LOSE", "rank": 2, "score": 2.5, "player_id": 12},
            ],
        )
        self.assertEqual(end.message["winner"], "alice")
        self.assertEqual(end.message["reason"], "highest number wins")
        self.assertEqual(end.message["stats"], {"rounds": 1})
        self.assertTrue(reporter.flush(5.0))
        with self.assertRaises(queue.Empty):
            self.fake.received.get(timeout=HEARTBEAT * 5)
        with self.assertRaises(RuntimeError):
            reporter.end([])
        with self.assertRaises(RuntimeError):
            reporter.error("too late")

    def test_rank_and_score_may_be_null(self) -> None:
        reporter = self.reporter()
        reporter.end([{"player": "alice", "outcome": "QUIT"}, sdk.PlayerResult("bob", "ERROR")])
        results = self.fake.next().message["results"]
        self.assertEqual(results[0], {"player": "alice", "outcome": "QUIT", "rank": None, "score": None})
        self.assertEqual(results[1], {"player": "bob", "outcome": "ERROR", "rank": None, "score": None})

    def test_bad_results_raise_a_sentence_and_send_nothing(self) -> None:
        reporter = self.reporter()
        cases = [
            ([{"player": "alice", "outcome": "VICTORY"}], "outcome for 'alice' is 'VICTORY'"),
            ([{"player": "mallory", "outcome": "WIN"}], "'mallory' is not a player of this match"),
            ([{"player": "alice", "outcome": "WIN"}, {"player": "alice", "outcome": "LOSE"}], "already has a result"),
            ([{"player": "alice", "outcome": "WIN", "rank": "1"}], "rank for 'alice' must be an integer"),
            ([{"player": "alice", "outcome": "WIN", "rank": True}], "rank for 'alice' must be an integer"),
            ([{"player": "alice", "outcome": "WIN", "score": math.nan}], "score for 'alice' must be a finite number"),
            ([{"player": "alice", "outcome": "WIN", "points": 3}], "unknown key(s) points"),
            ([{"player": "alice", "outcome": "WIN", "extra": [1]}], "extra for 'alice' must be a dict"),
            ([{"outcome": "WIN"}], "player must be a non-empty string"),
            (["alice"], "must be a PlayerResult or a dict"),
            ("alice", "results must be a list"),
        ]
        for results, expected in cases:
            with self.subTest(results=results):
                with self.assertRaises(ValueError) as caught:
                    reporter.end(results)  # type: ignore[arg-type]
                self.assertIn(expected, str(caught.exception))
        with self.assertRaises(ValueError) as caught:
            reporter.end([], winner="mallory")
        self.assertIn("winner 'mallory' is not a player", str(caught.exception))
        with self.assertRaises(ValueError) as caught:
            reporter.end([], report_token="forged")
        self.assertIn("report_token", str(caught.exception))
        with self.assertRaises(ValueError):
            reporter.end([], stats={1, 2})  # not JSON
        self.assertTrue(reporter.flush(5.0))
        self.assertEqual(self.fake.drain(), [])
        reporter.end([])  # still possible: nothing was marked finished
        self.assertEqual(self.fake.next().message["results"], [])

    def test_error_carries_err_msg(self) -> None:
        reporter = self.reporter(interval=HEARTBEAT)
        reporter.started()
        reporter.error("the deck is empty")
        error, _ = self.fake.wait_for("ERROR")
        self.assert_common_fields(error.message, "ERROR")
        self.assertEqual(error.message["err_msg"], "the deck is empty")
        with self.assertRaises(ValueError):
            self.reporter().error("")

    def test_resends_the_in_flight_message_after_the_endpoint_drops_the_connection(self) -> None:
        fake = FakeControlPlane(drop_first_message=True)
        self.addCleanup(fake.close)
        reporter = self.reporter(fake, interval=HEARTBEAT, initial_backoff=0.05, max_backoff=0.2)
        with self.assertLogs("gamestore_sdk", "WARNING") as logs:
            reporter.started()
            dropped = fake.next()
            resent = fake.next()
        self.assertIn("STARTED failed (peer closed the connection); retry 1", logs.output[0])
        self.assertEqual(dropped.message["status"], "STARTED")
        self.assertEqual(resent.message, dropped.message)  # the same bytes, timestamp included
        self.assertNotEqual(resent.conn_id, dropped.conn_id)
        beat = fake.next()
        self.assertEqual(beat.message["status"], "HEARTBEAT")
        self.assertEqual(beat.conn_id, resent.conn_id)  # the new connection persists
        self.assertTrue(reporter.flush(5.0))
        self.assertEqual(reporter.rejections, [])

    def test_resends_a_message_the_platform_does_not_answer_in_time(self) -> None:
        # Same rule as the C++ SDK: no reply within reply_timeout means the
        # connection is replaced and the message sent again.
        fake = FakeControlPlane(ignore_first_message=True)
        self.addCleanup(fake.close)
        reporter = self.reporter(fake, reply_timeout=0.2, initial_backoff=0.05, max_backoff=0.2)
        with self.assertLogs("gamestore_sdk", "WARNING") as logs:
            reporter.started()
            ignored = fake.next()
            resent = fake.next()
            self.assertTrue(reporter.flush(5.0))
        self.assertIn("STARTED failed (no complete line within 0.2 s); retry 1", logs.output[0])
        self.assertEqual(ignored.message["status"], "STARTED")
        self.assertEqual(resent.message, ignored.message)  # the same bytes, timestamp included
        self.assertNotEqual(resent.conn_id, ignored.conn_id)
        self.assertEqual(reporter.rejections, [])

    def test_started_after_end_is_refused_and_brings_no_heartbeat_back(self) -> None:
        reporter = self.reporter(interval=HEARTBEAT)
        reporter.started()
        self.fake.wait_for("HEARTBEAT")
        reporter.end([])
        with self.assertRaises(RuntimeError):
            reporter.started()
        self.fake.wait_for("END")
        with self.assertRaises(queue.Empty):
            self.fake.received.get(timeout=HEARTBEAT * 5)

    def test_works_with_one_connection_per_message(self) -> None:
        fake = FakeControlPlane(close_after_reply=True)
        self.addCleanup(fake.close)
        reporter = self.reporter(fake, initial_backoff=0.05, max_backoff=0.2)
        with self.assertLogs("gamestore_sdk", "WARNING"):  # each reconnect is logged
            reporter.started()
            reporter.heartbeat()
            reporter.end([{"player": "alice", "outcome": "DRAW"}, {"player": "bob", "outcome": "DRAW"}])
            self.assertTrue(reporter.close(10.0))
        statuses = [item.message["status"] for item in fake.drain()]
        # A message sent on a connection the endpoint has just closed is
        # re-sent on a new one, so nothing is lost and order is kept.
        self.assertEqual([status for status in statuses if status != "HEARTBEAT"], ["STARTED", "END"])
        self.assertIn("HEARTBEAT", statuses)
        self.assertGreaterEqual(fake.connections, 3)

    def test_refusals_are_recorded_not_retried(self) -> None:
        forged = "rt-forged-000000000000"
        ctx = server_context(self.fake.port, report_token=forged)
        with self.assertLogs("gamestore_sdk", "WARNING") as logs:
            with sdk.Reporter(ctx) as reporter:
                reporter.started()
                self.assertTrue(reporter.flush(5.0))
                self.assertEqual(reporter.rejections, [("STARTED", "report_token does not match this room")])
        self.assertEqual(len(self.fake.drain()), 1)
        text = "\n".join(logs.output)
        self.assertIn("refused STARTED", text)
        self.assertIn("token rt-for…", text)  # redacted...
        self.assertNotIn(forged, text)  # ...never whole

    def test_close_gives_up_after_its_timeout_when_nobody_listens(self) -> None:
        ctx = server_context(unused_port())
        reporter = sdk.Reporter(ctx, initial_backoff=0.05, max_backoff=0.1)
        with self.assertLogs("gamestore_sdk", "WARNING") as logs:
            reporter.started()
            self.assertFalse(reporter.flush(0.3))
            self.assertFalse(reporter.close(0.3))
        self.assertIn("1 report(s) not delivered: STARTED", logs.output[-1])
        with self.assertRaises(RuntimeError):
            reporter.heartbeat()

    def test_context_manager_flushes_on_exit(self) -> None:
        with sdk.Reporter(server_context(self.fake.port)) as reporter:
            reporter.started()
            reporter.end([])
        self.assertEqual([item.message["status"] for item in self.fake.drain()], ["STARTED", "END"])
        self.assertEqual(reporter.delivered, 2)

    def test_rejects_a_bad_heartbeat_interval(self) -> None:
        with self.assertRaises(ValueError):
            sdk.Reporter(server_context(self.fake.port), heartbeat_interval=0)


if __name__ == "__main__":
    unittest.main()

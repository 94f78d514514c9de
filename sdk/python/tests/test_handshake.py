"""Handshake v1 (validator, accept/connect helpers) and LineConnection."""

from __future__ import annotations

import queue
import socket
import threading
import unittest

from support import CLIENT_TOKEN, DELETE, MATCH_ID, client_context, handshake_line, sdk, server_context


class HandshakeValidatorTest(unittest.TestCase):
    def setUp(self) -> None:
        self.ctx = server_context(16535, players=("alice", "bob", "carol"))
        self.validator = sdk.HandshakeValidator(self.ctx)

    def assert_refused(self, line: object, expected: str) -> None:
        result = self.validator.validate(line)  # type: ignore[arg-type]
        self.assertFalse(result.ok)
        self.assertIn(expected, result.reason or "")
        self.assertNotIn(CLIENT_TOKEN, result.reason or "")
        self.assertIsNone(result.player_index)
        self.assertEqual(result.response(), {"ok": False, "reason": result.reason})

    def test_accepts_a_valid_handshake_with_the_players_index(self) -> None:
        result = self.validator.validate(handshake_line(player_name="carol"))
        self.assertTrue(result.ok, result.reason)
        self.assertEqual((result.player_index, result.player_name), (2, "carol"))
        self.assertEqual(result.response(), {"ok": True, "assigned_player_index": 2, "game_protocol_version": 1})
        self.assertEqual(self.validator.joined, frozenset({"carol"}))
        self.assertFalse(self.validator.all_joined())

    def test_accepts_str_and_parsed_objects_too(self) -> None:
        self.assertTrue(self.validator.validate(handshake_line().decode()).ok)
        parsed = {
            "room_id": 7,
            "match_id": MATCH_ID,
            "player_name": "bob",
            "client_token": CLIENT_TOKEN,
            "client_protocol_version": 1,
        }
        self.assertTrue(self.validator.validate(parsed).ok)

    def test_rejects_a_bad_token(self) -> None:
        self.assert_refused(handshake_line(client_token="ct-guess"), "client_token is not valid")
        self.assert_refused(handshake_line(client_token=""), "client_token is not valid")

    def test_rejects_a_stale_match_id(self) -> None:
        self.assert_refused(handshake_line(match_id="m-previous"), "match_id 'm-previous' is not this match")

    def test_rejects_the_wrong_room(self) -> None:
        self.assert_refused(handshake_line(room_id=8), "room_id 8 is not this game's room")

    def test_rejects_an_unknown_player(self) -> None:
        self.assert_refused(handshake_line(player_name="mallory"), "player 'mallory' is not in this match")

    def test_rejects_a_duplicate_player_until_released(self) -> None:
        self.assertTrue(self.validator.validate(handshake_line()).ok)
        self.assert_refused(handshake_line(), "player 'alice' is already connected")
        self.validator.release("alice")
        self.assertTrue(self.validator.validate(handshake_line()).ok)

    def test_rejects_bad_json_and_wrong_shapes(self) -> None:
        self.assert_refused(b"{not json", "handshake is not valid JSON")
        self.assert_refused(b"\xff\xfe", "not valid UTF-8")
        self.assert_refused(b"[1,2]", "handshake must be a JSON object")
        self.assert_refused(
            handshake_line(client_token=DELETE, room_id=DELETE), "missing field(s): room_id, client_token"
        )
        self.assert_refused(handshake_line(room_id="7"), "room_id must be an integer")
        self.assert_refused(handshake_line(room_id=True), "room_id must be an integer")
        self.assert_refused(handshake_line(player_name=3), "player_name must be a string")
        self.assert_refused(b"x" * (sdk.MAX_LINE_BYTES + 1), "longer than")

    def test_rejects_an_unsupported_protocol_version(self) -> None:
        self.assert_refused(handshake_line(client_protocol_version=2), "client protocol version 2 is not supported")
        self.assertEqual(self.validator.joined, frozenset())  # a refused client does not take the seat

    def test_the_token_is_checked_before_anything_else_is_revealed(self) -> None:
        # An unauthenticated client learns nothing about the match.
        self.assert_refused(handshake_line(client_token="x", match_id="m-old", player_name="eve"), "client_token")


class Peer:
    """A connected socket pair: ``conn`` is the LineConnection under test,
    ``raw`` the other end."""

    def __init__(self, test: unittest.TestCase) -> None:
        left, self.raw = socket.socketpair()
        self.conn = sdk.LineConnection(left)
        test.addCleanup(self.conn.close)
        test.addCleanup(self.raw.close)


class LineConnectionTest(unittest.TestCase):
    def test_json_round_trip_and_crlf(self) -> None:
        peer = Peer(self)
        peer.conn.send_json({"a": "é", "n": 1})
        self.assertEqual(peer.raw.recv(100), '{"a":"é","n":1}\n'.encode())
        peer.raw.sendall(b'{"x":1}\r\n{"y":2}\n{"z"')
        self.assertEqual(peer.conn.recv_json(1.0), {"x": 1})
        self.assertEqual(peer.conn.recv_json(1.0), {"y": 2})

    def test_receive_times_out(self) -> None:
        peer = Peer(self)
        peer.raw.sendall(b'{"partial":')
        with self.assertRaises(TimeoutError):
            peer.conn.recv_line(0.05)

    def test_closed_peer(self) -> None:
        peer = Peer(self)
        peer.raw.sendall(b'{"a":1}\n{"b"')
        peer.raw.close()
        self.assertEqual(peer.conn.recv_json(1.0), {"a": 1})
        with self.assertRaises(sdk.ConnectionClosedError) as caught:
            peer.conn.recv_line(1.0)
        self.assertIn("middle of a line", str(caught.exception))

    def test_line_longer_than_64_kib_is_refused(self) -> None:
        peer = Peer(self)
        writer = threading.Thread(target=peer.raw.sendall, args=(b"x" * (sdk.MAX_LINE_BYTES + 10),), daemon=True)
        writer.start()
        with self.assertRaises(sdk.LineTooLongError):
            peer.conn.recv_line(5.0)
        writer.join(5.0)

    def test_a_line_of_exactly_64_kib_is_accepted(self) -> None:
        peer = Peer(self)
        payload = b"y" * sdk.MAX_LINE_BYTES
        writer = threading.Thread(target=peer.raw.sendall, args=(payload + b"\n",), daemon=True)
        writer.start()
        self.assertEqual(peer.conn.recv_line(5.0), payload)
        writer.join(5.0)

    def test_bad_json_and_non_objects(self) -> None:
        peer = Peer(self)
        peer.raw.sendall(b"nope\n[1]\n")
        with self.assertRaises(sdk.ProtocolError):
            peer.conn.recv_json(1.0)
        with self.assertRaises(sdk.ProtocolError):
            peer.conn.recv_json(1.0)

    def test_refuses_to_send_what_the_peer_would_refuse(self) -> None:
        peer = Peer(self)
        with self.assertRaises(sdk.LineTooLongError):
            peer.conn.send_json({"blob": "z" * sdk.MAX_LINE_BYTES})
        with self.assertRaises(ValueError):
            peer.conn.send_json({"bad": float("nan")})
        with self.assertRaises(ValueError):
            peer.conn.send_line(b"two\nlines")


class HandshakeOverTcpTest(unittest.TestCase):
    """connect_and_handshake <-> serve_game_socket + accept_handshake."""

    def setUp(self) -> None:
        self.server_ctx = server_context(16535, port=1)  # the real port is the ephemeral one below
        self.listener = sdk.serve_game_socket(self.server_ctx, port=0)
        self.addCleanup(self.listener.close)
        self.port = self.listener.getsockname()[1]
        self.validator = sdk.HandshakeValidator(self.server_ctx)
        self.results: "queue.Queue[sdk.HandshakeResult]" = queue.Queue()

    def serve(self, connections: int, timeout: float = 5.0) -> threading.Thread:
        def run() -> None:
            for _ in range(connections):
                sock, _ = self.listener.accept()
                conn = sdk.LineConnection(sock)
                result = sdk.accept_handshake(conn, self.validator, timeout)
                self.results.put(result)
                conn.close()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def test_listener_uses_reuseaddr_and_the_bind_host(self) -> None:
        self.assertEqual(self.listener.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR), 1)
        self.assertEqual(self.listener.getsockname()[0], "127.0.0.1")

    def test_valid_client_is_accepted(self) -> None:
        self.serve(1)
        conn, response = sdk.connect_and_handshake(client_context(self.port, player_name="bob"), timeout=5.0)
        conn.close()
        self.assertEqual(response, {"ok": True, "assigned_player_index": 1, "game_protocol_version": 1})
        result = self.results.get(timeout=5.0)
        self.assertEqual((result.ok, result.player_name), (True, "bob"))

    def test_refusals_raise_handshake_error_with_the_servers_reason(self) -> None:
        self.serve(2)
        with self.assertRaises(sdk.HandshakeError) as caught:
            sdk.connect_and_handshake(client_context(self.port, client_token="ct-wrong-token"), timeout=5.0)
        self.assertIn("client_token is not valid", caught.exception.reason)
        with self.assertRaises(sdk.HandshakeError) as caught:
            sdk.connect_and_handshake(client_context(self.port, match_id="m-stale"), timeout=5.0)
        self.assertIn("is not this match", caught.exception.reason)
        self.assertFalse(self.results.get(timeout=5.0).ok)
        self.assertFalse(self.results.get(timeout=5.0).ok)

    def test_silent_client_is_answered_and_refused(self) -> None:
        self.serve(1, timeout=0.1)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5.0) as sock:
            conn = sdk.LineConnection(sock)
            reply = conn.recv_json(5.0)
        self.assertEqual(reply, {"ok": False, "reason": "no handshake received within 0.1 s"})
        self.assertFalse(self.results.get(timeout=5.0).ok)

    def test_seat_is_released_when_the_ok_reply_cannot_be_sent(self) -> None:
        # As in the C++ SDK's accept_players: a player admitted on a
        # connection that died before the reply may handshake again.
        ours, theirs = socket.socketpair()
        theirs.sendall(handshake_line(player_name="bob") + b"\n")
        theirs.close()  # gone: sending the reply fails with EPIPE
        with sdk.LineConnection(ours) as conn:
            result = sdk.accept_handshake(conn, self.validator, 5.0)
        self.assertFalse(result.ok)
        self.assertIn("could not send the handshake response", result.reason or "")
        self.assertEqual(self.validator.joined, frozenset())
        self.serve(1)
        conn, response = sdk.connect_and_handshake(client_context(self.port, player_name="bob"), timeout=5.0)
        conn.close()
        self.assertTrue(response["ok"])

    def test_client_that_hangs_up_is_refused_quietly(self) -> None:
        self.serve(1)
        socket.create_connection(("127.0.0.1", self.port), timeout=5.0).close()  # a TCP healthcheck
        result = self.results.get(timeout=5.0)
        self.assertFalse(result.ok)
        self.assertIn("closed the connection", result.reason or "")

    def test_nobody_listening_times_out(self) -> None:
        self.listener.close()
        with self.assertRaises(TimeoutError):
            sdk.connect_and_handshake(client_context(self.port), timeout=0.3, retry_interval=0.05)

    def test_server_that_answers_nonsense(self) -> None:
        def answer(reply: bytes) -> None:
            sock, _ = self.listener.accept()
            with sock:
                conn = sdk.LineConnection(sock)
                conn.recv_line(5.0)
                sock.sendall(reply)

        for reply, expected in ((b"garbage\n", "invalid handshake response"), (b'{"ok":"yes"}\n', "no boolean")):
            with self.subTest(reply=reply):
                thread = threading.Thread(target=answer, args=(reply,), daemon=True)
                thread.start()
                with self.assertRaises(sdk.HandshakeError) as caught:
                    sdk.connect_and_handshake(client_context(self.port), timeout=5.0)
                self.assertIn(expected, caught.exception.reason)
                thread.join(5.0)


if __name__ == "__main__":
    unittest.main()

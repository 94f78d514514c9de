"""Launch environment: ServerContext / ClientContext.from_env, redact()."""

from __future__ import annotations

import json
import os
import tempfile
import unittest
from pathlib import Path
from typing import Dict

from support import CLIENT_TOKEN, MATCH_ID, REPORT_TOKEN, sdk


def full_server_env(directory: Path) -> Dict[str, str]:
    players_file = directory / "players.json"
    players_file.write_text(json.dumps(["alice", "bob"]))
    return {
        "ROOM_ID": "7",
        "MATCH_ID": MATCH_ID,
        "PORT": "40123",
        "BIND_HOST": "127.0.0.1",
        "REPORT_HOST": "127.0.0.2",
        "REPORT_PORT": "16535",
        "REPORT_TOKEN": REPORT_TOKEN,
        "CLIENT_TOKEN": CLIENT_TOKEN,
        "PLAYERS_JSON_PATH": str(players_file),
        "PLAYERS_JSON": '["alice","bob"]',
        "PLAYERS_CSV": "alice,bob",
        "PLAYER_COUNT": "2",
        "PLATFORM_PROTOCOL_VERSION": "1",
        "HEARTBEAT_INTERVAL_SEC": "2",
        "MATCH_DIR": str(directory),
    }


def write_secret(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text)
    os.chmod(path, 0o600)
    return str(path)


class ServerContextTest(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self._tmp.name)

    def tearDown(self) -> None:
        self._tmp.cleanup()

    def test_reads_every_variable(self) -> None:
        ctx = sdk.ServerContext.from_env(full_server_env(self.dir))
        self.assertEqual(ctx.room_id, 7)
        self.assertEqual(ctx.match_id, MATCH_ID)
        self.assertEqual(ctx.port, 40123)
        self.assertEqual(ctx.bind_host, "127.0.0.1")
        self.assertEqual((ctx.report_host, ctx.report_port), ("127.0.0.2", 16535))
        self.assertEqual(ctx.report_token, REPORT_TOKEN)
        self.assertEqual(ctx.client_token, CLIENT_TOKEN)
        self.assertEqual(ctx.players, ("alice", "bob"))
        self.assertEqual(ctx.heartbeat_interval_sec, 2.0)
        self.assertEqual(ctx.platform_protocol_version, 1)
        self.assertEqual(ctx.match_dir, str(self.dir))
        self.assertEqual(ctx.player_index("bob"), 1)
        self.assertIsNone(ctx.player_index("mallory"))

    def test_defaults_for_optional_variables(self) -> None:
        env = full_server_env(self.dir)
        for name in ("BIND_HOST", "REPORT_HOST", "HEARTBEAT_INTERVAL_SEC", "PLATFORM_PROTOCOL_VERSION", "MATCH_DIR"):
            del env[name]
        ctx = sdk.ServerContext.from_env(env)
        self.assertEqual(ctx.bind_host, "0.0.0.0")
        self.assertEqual(ctx.report_host, "127.0.0.1")
        self.assertEqual(ctx.heartbeat_interval_sec, 5.0)
        self.assertEqual(ctx.platform_protocol_version, 1)
        self.assertIsNone(ctx.match_dir)

    def test_empty_environment_names_every_missing_variable(self) -> None:
        with self.assertRaises(sdk.LaunchContextError) as caught:
            sdk.ServerContext.from_env({})
        text = str(caught.exception)
        for name in (
            "ROOM_ID",
            "MATCH_ID",
            "PORT",
            "REPORT_PORT",
            "REPORT_TOKEN",
            "REPORT_TOKEN_PATH",
            "CLIENT_TOKEN",
            "CLIENT_TOKEN_PATH",
            "PLAYERS_JSON_PATH",
        ):
            self.assertIn(name, text)
        self.assertEqual(
            caught.exception.missing,
            [
                "ROOM_ID",
                "MATCH_ID",
                "PORT",
                "PLAYERS_JSON_PATH (or PLAYERS_JSON)",
                "REPORT_PORT",
                "REPORT_TOKEN (or REPORT_TOKEN_PATH)",
                "CLIENT_TOKEN (or CLIENT_TOKEN_PATH)",
            ],
        )
        self.assertIn("game server", text)

    def test_names_only_the_missing_variables(self) -> None:
        env = full_server_env(self.dir)
        del env["MATCH_ID"]
        del env["REPORT_PORT"]
        with self.assertRaises(sdk.LaunchContextError) as caught:
            sdk.ServerContext.from_env(env)
        self.assertEqual(caught.exception.missing, ["MATCH_ID", "REPORT_PORT"])
        self.assertNotIn("ROOM_ID", str(caught.exception))

    def test_blank_value_counts_as_missing(self) -> None:
        env = full_server_env(self.dir)
        env["MATCH_ID"] = "   "
        with self.assertRaises(sdk.LaunchContextError) as caught:
            sdk.ServerContext.from_env(env)
        self.assertEqual(caught.exception.missing, ["MATCH_ID"])

    def test_invalid_values_are_named_with_a_reason(self) -> None:
        env = full_server_env(self.dir)
        env.update(PORT="http", ROOM_ID="seven", REPORT_PORT="70000", HEARTBEAT_INTERVAL_SEC="-1")
        with self.assertRaises(sdk.LaunchContextError) as caught:
            sdk.ServerContext.from_env(env)
        invalid = " | ".join(caught.exception.invalid)
        self.assertIn("PORT: 'http' is not an integer", invalid)
        self.assertIn("ROOM_ID: 'seven' is not an integer", invalid)
        self.assertIn("REPORT_PORT: 70000 is out of range", invalid)
        self.assertIn("HEARTBEAT_INTERVAL_SEC", invalid)
        self.assertEqual(caught.exception.missing, [])

    def test_token_files_are_the_fallback_and_are_stripped(self) -> None:
        env = full_server_env(self.dir)
        del env["REPORT_TOKEN"]
        del env["CLIENT_TOKEN"]
        env["REPORT_TOKEN_PATH"] = write_secret(self.dir, "report_token", REPORT_TOKEN + "\n")
        env["CLIENT_TOKEN_PATH"] = write_secret(self.dir, "client_token", "  " + CLIENT_TOKEN + "\r\n")
        ctx = sdk.ServerContext.from_env(env)
        self.assertEqual(ctx.report_token, REPORT_TOKEN)
        self.assertEqual(ctx.client_token, CLIENT_TOKEN)

    def test_token_variable_wins_over_token_file(self) -> None:
        env = full_server_env(self.dir)
        env["REPORT_TOKEN_PATH"] = write_secret(self.dir, "report_token", "from-the-file-123456")
        self.assertEqual(sdk.ServerContext.from_env(env).report_token, REPORT_TOKEN)

    def test_whitespace_only_token_variable_falls_back_to_the_file(self) -> None:
        # As in the C++ SDK: a blank variable counts as unset.
        env = full_server_env(self.dir)
        env["REPORT_TOKEN"] = " \t "
        env["REPORT_TOKEN_PATH"] = write_secret(self.dir, "report_token", "from-the-file-123456\n")
        self.assertEqual(sdk.ServerContext.from_env(env).report_token, "from-the-file-123456")
        del env["REPORT_TOKEN_PATH"]
        with self.assertRaises(sdk.LaunchContextError) as caught:
            sdk.ServerContext.from_env(env)
        self.assertEqual(caught.exception.missing, ["REPORT_TOKEN (or REPORT_TOKEN_PATH)"])

    def test_unknown_platform_protocol_version_is_a_warning(self) -> None:
        env = full_server_env(self.dir)
        env["PLATFORM_PROTOCOL_VERSION"] = "2"
        with self.assertLogs("gamestore_sdk", "WARNING") as logs:
            ctx = sdk.ServerContext.from_env(env)
        self.assertEqual(ctx.platform_protocol_version, 2)
        self.assertIn("PLATFORM_PROTOCOL_VERSION=2 but this SDK speaks version 1", logs.output[0])
        env["PLATFORM_PROTOCOL_VERSION"] = "0"
        with self.assertRaises(sdk.LaunchContextError) as caught:
            sdk.ServerContext.from_env(env)
        self.assertIn("PLATFORM_PROTOCOL_VERSION", " | ".join(caught.exception.invalid))

    def test_unreadable_or_empty_token_file_is_named(self) -> None:
        env = full_server_env(self.dir)
        del env["REPORT_TOKEN"]
        del env["CLIENT_TOKEN"]
        env["REPORT_TOKEN_PATH"] = str(self.dir / "does-not-exist")
        env["CLIENT_TOKEN_PATH"] = write_secret(self.dir, "client_token", "\n")
        with self.assertRaises(sdk.LaunchContextError) as caught:
            sdk.ServerContext.from_env(env)
        invalid = " | ".join(caught.exception.invalid)
        self.assertIn("REPORT_TOKEN_PATH: cannot read", invalid)
        self.assertIn("does-not-exist", invalid)
        self.assertIn("CLIENT_TOKEN_PATH", invalid)
        self.assertIn("is empty", invalid)

    def test_players_json_path_is_preferred_over_players_json(self) -> None:
        env = full_server_env(self.dir)
        env["PLAYERS_JSON"] = '["carol","dave"]'
        env["PLAYERS_CSV"] = "erin,frank"
        self.assertEqual(sdk.ServerContext.from_env(env).players, ("alice", "bob"))
        del env["PLAYERS_JSON_PATH"]
        self.assertEqual(sdk.ServerContext.from_env(env).players, ("carol", "dave"))
        del env["PLAYERS_JSON"]
        self.assertEqual(sdk.ServerContext.from_env(env).players, ("erin", "frank"))

    def test_player_names_with_commas_and_quotes_survive_the_file(self) -> None:
        env = full_server_env(self.dir)
        names = ['Ann, "the" Great', "bob $(id)"]
        Path(env["PLAYERS_JSON_PATH"]).write_text(json.dumps(names))
        env["PLAYER_COUNT"] = "2"
        self.assertEqual(sdk.ServerContext.from_env(env).players, tuple(names))

    def test_bad_player_lists_are_refused(self) -> None:
        cases = {
            '{"alice":1}': "JSON array",
            "[alice]": "not valid JSON",
            '["alice","alice"]': "appears twice",
            '["alice",""]': "non-empty string",
            "[]": "empty",
        }
        for text, expected in cases.items():
            with self.subTest(players=text):
                env = full_server_env(self.dir)
                del env["PLAYERS_JSON_PATH"]
                env["PLAYERS_JSON"] = text
                with self.assertRaises(sdk.LaunchContextError) as caught:
                    sdk.ServerContext.from_env(env)
                self.assertIn("PLAYERS_JSON", str(caught.exception))
                self.assertIn(expected, str(caught.exception))

    def test_player_count_must_match_the_list(self) -> None:
        env = full_server_env(self.dir)
        env["PLAYER_COUNT"] = "3"
        with self.assertRaises(sdk.LaunchContextError) as caught:
            sdk.ServerContext.from_env(env)
        self.assertIn("PLAYER_COUNT: 3 does not match the 2 players", str(caught.exception))

    def test_keyword_overrides_win_and_satisfy_missing_variables(self) -> None:
        env = full_server_env(self.dir)
        del env["PORT"]
        ctx = sdk.ServerContext.from_env(env, port=41000, bind_host="::1", players=["x", "y", "z"])
        self.assertEqual(ctx.port, 41000)
        self.assertEqual(ctx.bind_host, "::1")
        self.assertEqual(ctx.players, ("x", "y", "z"))
        # None means "not given": the environment still applies.
        self.assertEqual(sdk.ServerContext.from_env(full_server_env(self.dir), port=None).port, 40123)
        with self.assertRaises(TypeError):
            sdk.ServerContext.from_env(env, prot=1)
        with self.assertRaises(sdk.LaunchContextError) as caught:
            sdk.ServerContext.from_env(env, port="abc")
        self.assertIn("port: 'abc' is not an integer", str(caught.exception))

    def test_port_zero_means_any_free_port(self) -> None:
        env = full_server_env(self.dir)
        env["PORT"] = "0"
        ctx = sdk.ServerContext.from_env(env, bind_host="127.0.0.1")
        self.assertEqual(ctx.port, 0)
        with sdk.serve_game_socket(ctx) as listener:
            self.assertGreater(listener.getsockname()[1], 0)

    def test_repr_never_shows_a_token(self) -> None:
        ctx = sdk.ServerContext.from_env(full_server_env(self.dir))
        text = repr(ctx) + str(ctx)
        self.assertNotIn(REPORT_TOKEN, text)
        self.assertNotIn(CLIENT_TOKEN, text)
        self.assertIn(REPORT_TOKEN[:6] + "…", text)


class ClientContextTest(unittest.TestCase):
    def test_reads_every_variable(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            token_file = write_secret(Path(tmp), "client_token", CLIENT_TOKEN + "\n")
            ctx = sdk.ClientContext.from_env(
                {
                    "ROOM_ID": "7",
                    "MATCH_ID": MATCH_ID,
                    "HOST": "game.example",
                    "PORT": "40123",
                    "PLAYER_NAME": "bob",
                    "CLIENT_TOKEN_PATH": token_file,
                    "PLATFORM_PROTOCOL_VERSION": "1",
                    "MATCH_DIR": tmp,
                }
            )
        self.assertEqual((ctx.room_id, ctx.match_id, ctx.host, ctx.port), (7, MATCH_ID, "game.example", 40123))
        self.assertEqual(ctx.player_name, "bob")
        self.assertEqual(ctx.client_token, CLIENT_TOKEN)
        self.assertNotIn(CLIENT_TOKEN, repr(ctx))

    def test_empty_environment_names_every_missing_variable(self) -> None:
        with self.assertRaises(sdk.LaunchContextError) as caught:
            sdk.ClientContext.from_env({})
        self.assertEqual(
            caught.exception.missing,
            ["ROOM_ID", "MATCH_ID", "HOST", "PORT", "PLAYER_NAME", "CLIENT_TOKEN (or CLIENT_TOKEN_PATH)"],
        )
        self.assertIn("game client", str(caught.exception))

    def test_client_port_must_be_a_real_port(self) -> None:
        env = {"ROOM_ID": "1", "MATCH_ID": "m", "HOST": "h", "PORT": "0", "PLAYER_NAME": "p", "CLIENT_TOKEN": "t" * 10}
        with self.assertRaises(sdk.LaunchContextError) as caught:
            sdk.ClientContext.from_env(env)
        self.assertEqual(caught.exception.invalid, ["PORT: 0 is out of range (must be between 1 and 65535)"])

    def test_reads_os_environ_by_default(self) -> None:
        saved = dict(os.environ)
        try:
            os.environ.update(
                ROOM_ID="9", MATCH_ID="m-env", HOST="127.0.0.1", PORT="4000", PLAYER_NAME="carol", CLIENT_TOKEN="t" * 20
            )
            os.environ.pop("CLIENT_TOKEN_PATH", None)
            ctx = sdk.ClientContext.from_env()
            self.assertEqual((ctx.room_id, ctx.player_name), (9, "carol"))
        finally:
            os.environ.clear()
            os.environ.update(saved)


class RedactTest(unittest.TestCase):
    def test_shows_six_characters_and_an_ellipsis(self) -> None:
        self.assertEqual(sdk.redact("abcdef0123456789"), "abcdef…")

    def test_short_and_empty_tokens_reveal_nothing(self) -> None:
        self.assertEqual(sdk.redact("abc"), "***")
        self.assertEqual(sdk.redact("abcdef"), "******")
        self.assertEqual(sdk.redact(""), "")
        self.assertEqual(sdk.redact(None), "")


if __name__ == "__main__":
    unittest.main()

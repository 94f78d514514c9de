"""End to end: the example package (examples/) run as the platform runs it.

The game server and two clients are real subprocesses started from the
package root with an argv list (the manifest's command, split once, no shell)
and an explicit environment; tokens travel only by env and 0600 files.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from types import ModuleType
from typing import Dict, List, Optional

from support import (
    CLIENT_TOKEN,
    EXAMPLES_DIR,
    MATCH_ID,
    REPORT_TOKEN,
    ROOM_ID,
    FakeControlPlane,
    client_context,
    sdk,
    unused_port,
)

PROCESS_TIMEOUT = 20.0


def manifest() -> Dict[str, object]:
    return json.loads((EXAMPLES_DIR / "manifest.json").read_text())


def command_argv(role: str) -> List[str]:
    """The manifest's command split once; ``python3`` becomes this interpreter
    so the test runs under the Python being tested."""
    argv = shlex.split(manifest()[role]["command"])  # type: ignore[index]
    if argv[0] == "python3":
        argv[0] = sys.executable
    return argv


class ExampleManifestTest(unittest.TestCase):
    def test_manifest_is_v2_and_carries_no_tokens(self) -> None:
        data = manifest()
        self.assertEqual(data["game_name"], "HigherNumber")
        self.assertEqual((data["type"], data["min_players"], data["max_players"]), ("CLI", 2, 2))
        self.assertEqual(data["healthcheck"], {"tcp_port": "{port}", "timeout_sec": 10})
        self.assertEqual(data["server"]["heartbeat_interval_sec"], 2)  # type: ignore[index]
        for role in ("server", "client"):
            command = data[role]["command"]  # type: ignore[index]
            self.assertNotIn("token", command)
            for word in shlex.split(command)[1:]:
                self.assertTrue((EXAMPLES_DIR / word).is_file(), f"{role}.command names a missing file {word}")


def load_example_server() -> ModuleType:
    spec = importlib.util.spec_from_file_location("higher_number_server", EXAMPLES_DIR / "server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ExampleScoringTest(unittest.TestCase):
    """The example's rules, without processes."""

    def setUp(self) -> None:
        self.score = load_example_server().score

    def outcomes(
        self, numbers: Dict[str, Optional[int]], failures: Optional[Dict[str, str]] = None
    ) -> Dict[str, tuple]:
        results = self.score(list(numbers), numbers, failures or {})
        sdk.normalize_results(results, list(numbers))  # always a valid END payload
        return {r.player: (r.outcome, r.rank, r.score) for r in results}

    def test_highest_number_wins(self) -> None:
        self.assertEqual(self.outcomes({"a": 1, "b": 9}), {"a": ("LOSE", 2, 1), "b": ("WIN", 1, 9)})

    def test_equal_numbers_draw(self) -> None:
        self.assertEqual(self.outcomes({"a": 4, "b": 4}), {"a": ("DRAW", 1, 4), "b": ("DRAW", 1, 4)})

    def test_absent_and_broken_players_get_quit_and_error_without_rank(self) -> None:
        self.assertEqual(
            self.outcomes({"a": None, "b": 2}, {"a": "QUIT"}), {"a": ("QUIT", None, None), "b": ("WIN", 1, 2)}
        )
        self.assertEqual(
            self.outcomes({"a": None, "b": None}, {"a": "ERROR", "b": "QUIT"}),
            {"a": ("ERROR", None, None), "b": ("QUIT", None, None)},
        )


class ExampleGameTest(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        self.match_dir = Path(self._tmp.name)
        os.chmod(self.match_dir, 0o700)
        self.fake = FakeControlPlane()
        self.addCleanup(self.fake.close)
        self.port = unused_port()
        self.processes: List[subprocess.Popen] = []
        self.addCleanup(self._stop_processes)

    def _stop_processes(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(PROCESS_TIMEOUT)

    def secret_file(self, name: str, value: str) -> str:
        path = self.match_dir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        return str(path)

    def base_env(self) -> Dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONDONTWRITEBYTECODE": "1",  # keep the package directory clean
            "PYTHONUNBUFFERED": "1",
            "ROOM_ID": str(ROOM_ID),
            "MATCH_ID": MATCH_ID,
            "PORT": str(self.port),
            "PLATFORM_PROTOCOL_VERSION": "1",
            "MATCH_DIR": str(self.match_dir),
        }

    def spawn(
        self, role: str, env: Dict[str, str], extra_args: Optional[List[str]] = None, log: str = ""
    ) -> subprocess.Popen:
        argv = command_argv(role) + (extra_args or [])
        for secret in (REPORT_TOKEN, CLIENT_TOKEN):
            self.assertNotIn(secret, " ".join(argv))
        out = open(self.match_dir / f"{log or role}.out", "wb")
        err = open(self.match_dir / f"{log or role}.err", "wb")
        self.addCleanup(out.close)
        self.addCleanup(err.close)
        process = subprocess.Popen(
            argv, cwd=EXAMPLES_DIR, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
        )
        self.processes.append(process)
        return process

    def logs(self, name: str) -> str:
        parts = []
        for suffix in ("out", "err"):
            path = self.match_dir / f"{name}.{suffix}"
            if path.exists():
                parts.append(f"--- {name}.{suffix}\n{path.read_text(errors='replace')}")
        return "\n".join(parts)

    def start_server(self) -> subprocess.Popen:
        players_path = self.match_dir / "players.json"
        players_path.write_text(json.dumps(["alice", "bob"]))
        env = self.base_env()
        env.update(
            {
                "BIND_HOST": "127.0.0.1",
                "REPORT_HOST": "127.0.0.1",
                "REPORT_PORT": str(self.fake.port),
                "REPORT_TOKEN": REPORT_TOKEN,  # by env...
                "REPORT_TOKEN_PATH": self.secret_file("report_token", REPORT_TOKEN),
                "CLIENT_TOKEN_PATH": self.secret_file("client_token", CLIENT_TOKEN),  # ...and by file only
                "PLAYERS_JSON_PATH": str(players_path),
                "PLAYERS_JSON": '["alice","bob"]',
                "PLAYERS_CSV": "alice,bob",
                "PLAYER_COUNT": "2",
                "HEARTBEAT_INTERVAL_SEC": "0.2",
            }
        )
        server = self.spawn("server", env)
        try:
            started, skipped = self.fake.wait_for("STARTED", PROCESS_TIMEOUT)
        except AssertionError:
            server.kill()
            server.wait(PROCESS_TIMEOUT)
            raise AssertionError("the example server sent no STARTED\n" + self.logs("server")) from None
        self.assertEqual(skipped, [])
        self.assertEqual(started.message["port"], self.port)
        self.assertEqual(started.message["protocol_version"], 1)
        self.assertEqual(started.message["game"], "HigherNumber")
        return server

    def start_client(self, player: str, number: int) -> subprocess.Popen:
        env = self.base_env()
        env.update(
            {"HOST": "127.0.0.1", "PLAYER_NAME": player, "CLIENT_TOKEN_PATH": str(self.match_dir / "client_token")}
        )
        return self.spawn("client", env, ["--number", str(number)], log=player)

    def wait_exit(self, process: subprocess.Popen, name: str) -> int:
        try:
            return process.wait(PROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(PROCESS_TIMEOUT)
            raise AssertionError(f"{name} did not exit within {PROCESS_TIMEOUT} s\n" + self.logs(name)) from None

    def test_two_clients_play_and_the_server_reports_both_results(self) -> None:
        server = self.start_server()
        beat, _ = self.fake.wait_for("HEARTBEAT", PROCESS_TIMEOUT)  # automatic heartbeats
        self.assertEqual(beat.message["match_id"], MATCH_ID)

        # STARTED means handshakes are answered: an intruder is refused and takes no seat.
        with self.assertRaises(sdk.HandshakeError) as caught:
            sdk.connect_and_handshake(client_context(self.port, client_token="ct-intruder-0000"), timeout=5.0)
        self.assertIn("client_token", caught.exception.reason)

        alice = self.start_client("alice", 7)
        bob = self.start_client("bob", 3)
        end, _ = self.fake.wait_for("END", PROCESS_TIMEOUT)
        results = {entry["player"]: entry for entry in end.message["results"]}
        self.assertEqual(set(results), {"alice", "bob"}, end.message)
        self.assertEqual(results["alice"], {"player": "alice", "outcome": "WIN", "rank": 1, "score": 7})
        self.assertEqual(results["bob"], {"player": "bob", "outcome": "LOSE", "rank": 2, "score": 3})
        self.assertEqual(end.message["winner"], "alice")
        self.assertEqual(end.message["report_token"], REPORT_TOKEN)

        self.assertEqual(self.wait_exit(alice, "alice"), 0, self.logs("alice"))
        self.assertEqual(self.wait_exit(bob, "bob"), 0, self.logs("bob"))
        self.assertEqual(self.wait_exit(server, "server"), 0, self.logs("server"))
        self.assertIn("Result: WIN", self.logs("alice"))
        self.assertIn("Result: LOSE", self.logs("bob"))
        every_log = self.logs("server") + self.logs("alice") + self.logs("bob")
        self.assertNotIn(REPORT_TOKEN, every_log)
        self.assertNotIn(CLIENT_TOKEN, every_log)

    def test_sigterm_ends_the_server_cleanly(self) -> None:
        server = self.start_server()
        server.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(server, "server"), 0, self.logs("server"))
        self.assertIn("SIGTERM", self.logs("server"))
        statuses = {item.message["status"] for item in self.fake.drain()}
        self.assertTrue(statuses <= {"HEARTBEAT"}, statuses)  # no END/ERROR for a platform-initiated stop

    def test_missing_environment_is_reported_by_name(self) -> None:
        env = self.base_env()
        del env["MATCH_ID"]
        server = self.spawn("server", env)
        self.assertEqual(self.wait_exit(server, "server"), 2)
        text = self.logs("server")
        for name in ("MATCH_ID", "REPORT_PORT", "REPORT_TOKEN", "CLIENT_TOKEN", "PLAYERS_JSON_PATH"):
            self.assertIn(name, text)


if __name__ == "__main__":
    unittest.main()

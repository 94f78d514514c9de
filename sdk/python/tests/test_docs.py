"""The minimal Python server and client of docs/SDK.md, run as written.

The snippets are taken from the document itself (the ```python blocks under
"A complete minimal server" / "A complete minimal client" in its Python
part), written next to a copy of gamestore_sdk.py as a game developer would
lay out a package, and played as real processes against a fake control
plane. Editing the document so the code no longer works fails this test.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Dict, List

from support import CLIENT_TOKEN, MATCH_ID, REPORT_TOKEN, ROOM_ID, SDK_DIR, FakeControlPlane, unused_port

DOC = SDK_DIR.parent.parent / "docs" / "SDK.md"
PROCESS_TIMEOUT = 20.0


def python_snippet(title: str) -> str:
    """The ```python block right under ``### <title>`` in the Python part."""
    text = DOC.read_text(encoding="utf-8")
    part = text.find("\n## Python\n")
    if part < 0:
        raise AssertionError(f"{DOC} has no '## Python' section")
    match = re.search(r"\n### " + re.escape(title) + r"\n+```python\n(.*?)\n```\n", text[part:], re.S)
    if match is None:
        raise AssertionError(f"{DOC}: no ```python block right under '### {title}' in the Python part")
    return match.group(1) + "\n"


class DocSnippetsTest(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        root = Path(self._tmp.name)
        # The package as docs/SDK.md describes it: the SDK file next to the game.
        self.package = root / "package"
        self.package.mkdir()
        shutil.copy(SDK_DIR / "gamestore_sdk.py", self.package / "gamestore_sdk.py")
        (self.package / "server.py").write_text(python_snippet("A complete minimal server"))
        (self.package / "client.py").write_text(python_snippet("A complete minimal client"))
        self.match_dir = root / "match"
        self.match_dir.mkdir(mode=0o700)
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

    def base_env(self) -> Dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "ROOM_ID": str(ROOM_ID),
            "MATCH_ID": MATCH_ID,
            "PORT": str(self.port),
            "PLATFORM_PROTOCOL_VERSION": "1",
            "MATCH_DIR": str(self.match_dir),
            "CLIENT_TOKEN": CLIENT_TOKEN,
        }

    def spawn(self, script: str, env: Dict[str, str], log: str) -> subprocess.Popen:
        out = open(self.match_dir / f"{log}.out", "wb")
        err = open(self.match_dir / f"{log}.err", "wb")
        self.addCleanup(out.close)
        self.addCleanup(err.close)
        process = subprocess.Popen(
            [sys.executable, script],
            cwd=self.package,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def output(self, log: str) -> str:
        return "\n".join(
            (self.match_dir / f"{log}.{suffix}").read_text(errors="replace") for suffix in ("out", "err")
        )

    def wait_exit(self, process: subprocess.Popen, log: str) -> int:
        try:
            return process.wait(PROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(PROCESS_TIMEOUT)
            raise AssertionError(f"{log} did not exit within {PROCESS_TIMEOUT} s\n{self.output(log)}") from None

    def start_server(self) -> subprocess.Popen:
        env = self.base_env()
        env.update(
            {
                "BIND_HOST": "127.0.0.1",
                "REPORT_HOST": "127.0.0.1",
                "REPORT_PORT": str(self.fake.port),
                "REPORT_TOKEN": REPORT_TOKEN,
                "PLAYERS_JSON": '["alice","bob"]',
                "PLAYER_COUNT": "2",
                "HEARTBEAT_INTERVAL_SEC": "0.2",
            }
        )
        server = self.spawn("server.py", env, "server")
        try:
            started, _ = self.fake.wait_for("STARTED", PROCESS_TIMEOUT)
        except AssertionError:
            server.kill()
            server.wait(PROCESS_TIMEOUT)
            raise AssertionError("the documented server sent no STARTED\n" + self.output("server")) from None
        self.assertEqual(started.message["port"], self.port)
        self.assertEqual(started.message["game"], "MyGame")
        return server

    def test_the_documented_server_and_client_play_a_match_to_end(self) -> None:
        server = self.start_server()
        self.fake.wait_for("HEARTBEAT", PROCESS_TIMEOUT)
        clients = {}
        for player in ("alice", "bob"):
            env = self.base_env()
            env.update({"HOST": "127.0.0.1", "PLAYER_NAME": player})
            clients[player] = self.spawn("client.py", env, player)
        end, _ = self.fake.wait_for("END", PROCESS_TIMEOUT)
        self.assertEqual(
            end.message["results"],
            [
                {"player": "alice", "outcome": "DRAW", "rank": 1, "score": None},
                {"player": "bob", "outcome": "DRAW", "rank": 1, "score": None},
            ],
        )
        self.assertEqual(end.message["reason"], "everybody draws")
        for player, process in clients.items():
            self.assertEqual(self.wait_exit(process, player), 0, self.output(player))
            self.assertRegex(self.output(player), r"I am player [01]\b")
            self.assertIn("'outcome': 'DRAW'", self.output(player))
        self.assertEqual(self.wait_exit(server, "server"), 0, self.output("server"))

    def test_the_documented_server_exits_cleanly_on_sigterm(self) -> None:
        server = self.start_server()
        server.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(server, "server"), 0, self.output("server"))
        statuses = {item.message["status"] for item in self.fake.drain()}
        self.assertTrue(statuses <= {"HEARTBEAT"}, statuses)  # a platform-initiated stop sends no END

    def test_the_documented_client_names_the_refusal(self) -> None:
        server = self.start_server()
        env = self.base_env()
        env.update({"HOST": "127.0.0.1", "PLAYER_NAME": "mallory"})
        stranger = self.spawn("client.py", env, "mallory")
        self.assertEqual(self.wait_exit(stranger, "mallory"), 1)
        self.assertIn("refused: player 'mallory' is not in this match", self.output("mallory"))
        server.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(server, "server"), 0, self.output("server"))


if __name__ == "__main__":
    unittest.main()

"""Support for the reference-game tests.

* Imports: the SDK (sdk/python) and the shared runtime (games/common) from
  the source tree, and :func:`load_module` for a game's own modules.
* :func:`package_dir`: the game's package assembled exactly as the build
  does it (``cmake -P games/assemble_package.cmake``) into a temporary
  directory, so the processes under test run from what would be published.
* :class:`FakeControlPlane`: the platform's side of the control plane (the
  approach of sdk/python/tests/support.py), recording every report.
* :class:`MatchTestCase`: starts the game server and clients as real
  processes -- argv lists from the manifest, no shell, an explicit
  environment as the platform and the player's launcher set it, tokens only
  in the environment and in 0600 files.

Every wait is bounded; nothing sleeps to synchronise.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import queue
import shlex
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

# Importing the games' modules from the source tree must not leave
# __pycache__ directories next to them.
sys.dont_write_bytecode = True

REPO_ROOT = Path(__file__).resolve().parents[2]
GAMES_DIR = REPO_ROOT / "games"
SDK_DIR = REPO_ROOT / "sdk" / "python"
for _path in (SDK_DIR, GAMES_DIR / "common"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import gamestore_sdk as sdk  # noqa: E402  (needs the path above)

ROOM_ID = 12
MATCH_ID = "m-games-0123456789abcdef"
REPORT_TOKEN = "rt-games-0123456789abcdef0123456789ab"
CLIENT_TOKEN = "ct-games-fedcba9876543210fedcba987654"
PROCESS_TIMEOUT = 20.0  # generous bound for any single process or message wait

VALID_OUTCOMES = {"WIN", "LOSE", "DRAW", "QUIT", "ERROR"}


def load_module(game: str, module: str) -> ModuleType:
    """Import games/<game>/<module>.py under a unique name (the game directory
    goes on sys.path so the module's own sibling imports work)."""
    directory = GAMES_DIR / game
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    unique = f"{game}__{module}"
    if unique in sys.modules:
        return sys.modules[unique]
    spec = importlib.util.spec_from_file_location(unique, directory / f"{module}.py")
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[unique] = loaded
    spec.loader.exec_module(loaded)
    return loaded


# --------------------------------------------------------------------------
# Packages
# --------------------------------------------------------------------------

_packages_root: Optional[Path] = None
_assembled: Dict[str, Path] = {}
_assemble_lock = threading.Lock()


def _cleanup_packages() -> None:
    if _packages_root is not None:
        shutil.rmtree(_packages_root, ignore_errors=True)


def package_dir(game: str) -> Path:
    """games/<game> assembled by games/assemble_package.cmake (once per run)."""
    global _packages_root
    with _assemble_lock:
        if game in _assembled:
            return _assembled[game]
        cmake = shutil.which("cmake")
        if cmake is None:
            raise unittest.SkipTest("cmake is needed to assemble the game packages (it is the build's packager)")
        if _packages_root is None:
            _packages_root = Path(tempfile.mkdtemp(prefix="gamestore-games-"))
            atexit.register(_cleanup_packages)
        out = _packages_root / "packages" / game
        argv = [
            cmake,
            f"-DGAME_DIR={GAMES_DIR / game}",
            f"-DCOMMON_DIR={GAMES_DIR / 'common'}",
            f"-DSDK_FILE={SDK_DIR / 'gamestore_sdk.py'}",
            f"-DOUT_DIR={out}",
            f"-DSTAGING_DIR={_packages_root / 'staging'}",
            "-P",
            str(GAMES_DIR / "assemble_package.cmake"),
        ]
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=PROCESS_TIMEOUT)
        if done.returncode != 0:
            raise AssertionError(f"assembling {game} failed:\n{done.stdout.decode(errors='replace')}")
        _assembled[game] = out
        return out


def manifest(game: str) -> Dict[str, Any]:
    return json.loads((GAMES_DIR / game / "manifest.json").read_text(encoding="utf-8"))


def command_argv(game: str, role: str) -> List[str]:
    """The manifest's command split once (no shell); ``python3`` becomes
    this interpreter so the test runs under the Python being tested."""
    argv = shlex.split(manifest(game)[role]["command"])
    if argv[0] == "python3":
        argv[0] = sys.executable
    return argv


# --------------------------------------------------------------------------
# Fake control plane
# --------------------------------------------------------------------------


class Received(NamedTuple):
    conn_id: int
    message: Dict[str, Any]


class _Handler(socketserver.StreamRequestHandler):
    server: "_Server"

    def handle(self) -> None:
        fake = self.server.fake
        conn_id = fake._new_connection()
        while True:  # bounded by the connection: readline returns b"" at EOF
            raw = self.rfile.readline(sdk.MAX_LINE_BYTES + 2)
            if not raw:
                return
            try:
                message = json.loads(raw)
            except ValueError:
                self.wfile.write(b'{"ok":false,"error":"bad JSON"}\n')
                continue
            fake.received.put(Received(conn_id, message))
            self.wfile.write((json.dumps(fake.reply_for(message)) + "\n").encode())
            self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    fake: "FakeControlPlane"


class FakeControlPlane:
    """Control-plane endpoint on 127.0.0.1:<ephemeral> answering like the platform."""

    def __init__(self) -> None:
        self.received: "queue.Queue[Received]" = queue.Queue()
        self._lock = threading.Lock()
        self._connections = 0
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def _new_connection(self) -> int:
        with self._lock:
            self._connections += 1
            return self._connections

    @staticmethod
    def reply_for(message: Any) -> Dict[str, Any]:
        if not isinstance(message, dict):
            return {"ok": False, "error": "a report must be a JSON object"}
        if message.get("report_token") != REPORT_TOKEN:
            return {"ok": False, "error": "report_token does not match this room"}
        if message.get("match_id") != MATCH_ID or message.get("room_id") != ROOM_ID:
            return {"ok": False, "error": "stale or foreign report"}
        if message.get("status") not in ("STARTED", "HEARTBEAT", "END", "ERROR"):
            return {"ok": False, "error": "unknown status"}
        return {"ok": True}

    def wait_for(self, status: str, timeout: float = PROCESS_TIMEOUT) -> Tuple[Dict[str, Any], List[str]]:
        """The next report with ``status`` and the statuses received before it."""
        deadline = time.monotonic() + timeout
        skipped: List[str] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {status} report within {timeout} s; received {skipped}")
            try:
                item = self.received.get(timeout=remaining)
            except queue.Empty:
                continue
            if item.message.get("status") == status:
                return item.message, skipped
            skipped.append(str(item.message.get("status")))

    def drain(self) -> List[Dict[str, Any]]:
        items = []
        while True:
            try:
                items.append(self.received.get_nowait().message)
            except queue.Empty:
                return items

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)


# --------------------------------------------------------------------------
# Raw game connections (a test playing the protocol by hand)
# --------------------------------------------------------------------------


def client_context(port: int, player: str) -> sdk.ClientContext:
    return sdk.ClientContext(room_id=ROOM_ID, match_id=MATCH_ID, host="127.0.0.1", port=port,
                             player_name=player, client_token=CLIENT_TOKEN)


class RawPlayer:
    """One player speaking the game protocol directly over the socket."""

    def __init__(self, port: int, name: str) -> None:
        self.name = name
        self.conn, self.handshake = sdk.connect_and_handshake(client_context(port, name), timeout=PROCESS_TIMEOUT)
        self.seen: List[Dict[str, Any]] = []

    def send(self, message: Dict[str, Any]) -> None:
        self.conn.send_json(message)

    def send_line(self, data: bytes) -> None:
        self.conn.send_line(data)

    def expect(self, kind: str, timeout: float = PROCESS_TIMEOUT, **fields: Any) -> Dict[str, Any]:
        """Read messages until one of type ``kind`` (whose ``fields`` match)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: no {kind} {fields or ''} within {timeout} s; "
                                     f"saw {[m.get('type') for m in self.seen[-10:]]}")
            try:
                message = self.conn.recv_json(remaining)
            except TimeoutError:
                continue
            self.seen.append(message)
            if message.get("type") == "game_over":
                self.close()  # as a real client does: the server waits for it to hang up
            if message.get("type") == kind and all(message.get(k) == v for k, v in fields.items()):
                return message

    def expect_closed(self, timeout: float = PROCESS_TIMEOUT) -> List[Dict[str, Any]]:
        """Read until the server closes the connection; returns what came."""
        deadline = time.monotonic() + timeout
        got: List[Dict[str, Any]] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: the server did not close the connection within {timeout} s")
            try:
                message = self.conn.recv_json(remaining)
            except (sdk.ConnectionClosedError, OSError):
                return got
            except TimeoutError:
                continue
            self.seen.append(message)
            got.append(message)

    def close(self) -> None:
        self.conn.close()


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------


class MatchTestCase(unittest.TestCase):
    """Runs one match per test: a game server and clients as subprocesses."""

    GAME = ""  # games/<GAME>

    def setUp(self) -> None:
        self.package = package_dir(self.GAME)
        self._tmp = tempfile.TemporaryDirectory(prefix="match-")
        self.addCleanup(self._tmp.cleanup)
        self.match_dir = Path(self._tmp.name)
        os.chmod(self.match_dir, 0o700)
        self.fake = FakeControlPlane()
        self.addCleanup(self.fake.close)
        self.processes: List[subprocess.Popen] = []
        self.addCleanup(self._stop_processes)
        self.raw_players: List[RawPlayer] = []
        self.addCleanup(self._close_raw)
        self.port = 0
        self.players: List[str] = []

    def _stop_processes(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(PROCESS_TIMEOUT)
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()

    def _close_raw(self) -> None:
        for player in self.raw_players:
            player.close()

    def secret_file(self, name: str, value: str) -> str:
        path = self.match_dir / name
        if not path.exists():
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
            "PLATFORM_PROTOCOL_VERSION": "1",
            "MATCH_DIR": str(self.match_dir),
        }

    def spawn(self, role: str, env: Dict[str, str], extra_args: Sequence[str] = (), log: str = "",
              stdin: Any = subprocess.DEVNULL) -> subprocess.Popen:
        argv = command_argv(self.GAME, role) + list(extra_args)
        for secret in (REPORT_TOKEN, CLIENT_TOKEN):
            self.assertNotIn(secret, " ".join(argv))
        name = log or role
        out = open(self.match_dir / f"{name}.out", "wb")
        err = open(self.match_dir / f"{name}.err", "wb")
        self.addCleanup(out.close)
        self.addCleanup(err.close)
        process = subprocess.Popen(argv, cwd=self.package, env=env, stdin=stdin, stdout=out, stderr=err,
                                   start_new_session=True)
        self.processes.append(process)
        return process

    def logs(self, name: str) -> str:
        parts = []
        for suffix in ("out", "err"):
            path = self.match_dir / f"{name}.{suffix}"
            if path.exists():
                parts.append(f"--- {name}.{suffix}\n{path.read_text(errors='replace')[-6000:]}")
        return "\n".join(parts)

    def start_server(self, players: Sequence[str], extra_args: Sequence[str] = ()) -> subprocess.Popen:
        """Start the game server on an OS-chosen port (PORT=0) and wait for
        STARTED, which carries the real port."""
        self.players = list(players)
        players_path = self.match_dir / "players.json"
        players_path.write_text(json.dumps(self.players))
        env = self.base_env()
        env.update({
            "PORT": "0",
            "BIND_HOST": "127.0.0.1",
            "REPORT_HOST": "127.0.0.1",
            "REPORT_PORT": str(self.fake.port),
            "REPORT_TOKEN": REPORT_TOKEN,
            "REPORT_TOKEN_PATH": self.secret_file("report_token", REPORT_TOKEN),
            "CLIENT_TOKEN": CLIENT_TOKEN,
            "CLIENT_TOKEN_PATH": self.secret_file("client_token", CLIENT_TOKEN),
            "PLAYERS_JSON": json.dumps(self.players),
            "PLAYERS_JSON_PATH": str(players_path),
            "PLAYERS_CSV": ",".join(self.players),
            "PLAYER_COUNT": str(len(self.players)),
            "HEARTBEAT_INTERVAL_SEC": "0.5",
        })
        server = self.spawn("server", env, extra_args)
        try:
            started, skipped = self.fake.wait_for("STARTED")
        except AssertionError:
            server.kill()
            server.wait(PROCESS_TIMEOUT)
            raise AssertionError("the game server sent no STARTED\n" + self.logs("server")) from None
        self.assertEqual(skipped, [])
        self.assertEqual(started["protocol_version"], 1)
        self.assertEqual(started["game"], manifest(self.GAME)["game_name"])
        self.port = int(started["port"])
        return server

    def client_env(self, player: str, **extra: str) -> Dict[str, str]:
        env = self.base_env()
        env.update({
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "PLAYER_NAME": player,
            "CLIENT_TOKEN": CLIENT_TOKEN,
            "CLIENT_TOKEN_PATH": self.secret_file("client_token", CLIENT_TOKEN),
        })
        env.update(extra)
        return env

    def start_bot(self, player: str, seed: int, *, via_env: bool = False) -> subprocess.Popen:
        """A bot client: ``--bot --seed N``, or GAMESTORE_BOT=1 with an unchanged argv."""
        if via_env:
            env = self.client_env(player, GAMESTORE_BOT="1", GAMESTORE_BOT_SEED=str(seed))
            return self.spawn("client", env, log=player)
        return self.spawn("client", self.client_env(player), ["--bot", "--seed", str(seed)], log=player)

    def start_human(self, player: str) -> subprocess.Popen:
        """A keyboard client whose keyboard is a pipe the test writes to."""
        return self.spawn("client", self.client_env(player), log=player, stdin=subprocess.PIPE)

    def raw_player(self, player: str) -> RawPlayer:
        raw = RawPlayer(self.port, player)
        self.raw_players.append(raw)
        return raw

    def wait_exit(self, process: subprocess.Popen, name: str) -> int:
        try:
            return process.wait(PROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(PROCESS_TIMEOUT)
            raise AssertionError(f"{name} did not exit within {PROCESS_TIMEOUT} s\n" + self.logs(name)) from None

    def end_report(self) -> Dict[str, Any]:
        """Wait for END; check it names every player exactly once with a valid outcome."""
        try:
            end, _ = self.fake.wait_for("END")
        except AssertionError:
            raise AssertionError("no END\n" + self.logs("server")) from None
        self.assertEqual(end["report_token"], REPORT_TOKEN)
        names = [entry["player"] for entry in end["results"]]
        self.assertEqual(sorted(names), sorted(self.players), end)
        for entry in end["results"]:
            self.assertIn(entry["outcome"], VALID_OUTCOMES, entry)
        return end

    @staticmethod
    def by_player(end: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
        return {entry["player"]: entry for entry in end["results"]}

    def assert_no_tokens_in_logs(self, names: Sequence[str]) -> None:
        text = "".join(self.logs(name) for name in names)
        self.assertNotIn(REPORT_TOKEN, text)
        self.assertNotIn(CLIENT_TOKEN, text)

"""The packages: manifests (manifest v2) and what the build assembles."""

from __future__ import annotations

import re
import shlex
import unittest

from gamesupport import GAMES_DIR, SDK_DIR, manifest, package_dir

GAMES = {
    "connect_four": ("Connect Four", 2, 2),
    "dots_and_boxes": ("Dots and Boxes", 2, 2),
    "liars_dice": ("Liar's Dice", 3, 8),
}
#: The GUI game's client needs pygame, a Debian package: the system's Python.
GUI = {"dots_and_boxes"}


class ManifestTest(unittest.TestCase):
    def test_manifests_follow_the_brief(self) -> None:
        for game, (name, low, high) in GAMES.items():
            with self.subTest(game=game):
                data = manifest(game)
                self.assertEqual(data["game_name"], name)
                self.assertEqual(data["version"], "1.0.0")
                self.assertEqual(data["type"], "GUI" if game in GUI else "CLI")
                self.assertEqual((data["min_players"], data["max_players"]), (low, high))
                self.assertEqual(data["protocol_version"], 1)
                self.assertEqual(data["server"], {"command": "python3 server.py", "heartbeat_interval_sec": 2})
                python = "/usr/bin/python3" if game in GUI else "python3"
                self.assertEqual(data["client"], {"command": f"{python} client.py"})
                self.assertEqual(data["healthcheck"], {"tcp_port": "{port}", "timeout_sec": 10})
                self.assertTrue(0 < len(data["description"]) <= 4000)
                self.assertNotRegex(data["description"], r"[\x00-\x08\x0b-\x1f]")
                for role in ("server", "client"):
                    self.assertNotIn("token", data[role]["command"])


class PackageTest(unittest.TestCase):
    def test_a_package_holds_the_game_the_runtime_and_the_sdk_and_nothing_else(self) -> None:
        for game in GAMES:
            with self.subTest(game=game):
                root = package_dir(game)
                files = sorted(path.name for path in root.iterdir())
                self.assertEqual(files, sorted(["manifest.json", "server.py", "client.py", f"{game}.py",
                                                "gamekit.py", "gamestore_sdk.py"]))
                self.assertEqual((root / "gamestore_sdk.py").read_bytes(), (SDK_DIR / "gamestore_sdk.py").read_bytes())
                for role in ("server", "client"):
                    for word in shlex.split(manifest(game)[role]["command"])[1:]:
                        self.assertTrue((root / word).is_file(), f"{role}.command names a missing file {word}")

    def test_the_build_assembles_every_game(self) -> None:
        cmake = (GAMES_DIR / "CMakeLists.txt").read_text(encoding="utf-8")
        listed = re.search(r"foreach\(game ([^)]*)\)", cmake)
        self.assertIsNotNone(listed)
        on_disk = sorted(path.parent.name for path in GAMES_DIR.glob("*/manifest.json"))
        self.assertEqual(sorted(listed.group(1).split()), on_disk)
        self.assertIn("add_custom_target(game_packages ALL", cmake)


if __name__ == "__main__":
    unittest.main()

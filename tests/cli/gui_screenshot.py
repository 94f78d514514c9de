#!/usr/bin/env python3
"""Checks a screenshot of a Dots and Boxes window against the client's log
(test_gui_game.cpp; run with /usr/bin/python3, which has pygame).

    gui_screenshot.py --xwd WINDOW.xwd --png OUT.png --package DIR --log client.log --when mid|end

Reads the window's image as xwd wrote it (XWD, ZPixmap, 24/32 bits per
pixel), saves it as PNG, and compares it with the last board the client
logged, using the game's own layout and colours (``client.Layout`` from the
package): every line the log lists as drawn is drawn in a player's colour
and no other line is. ``mid``: the match was frozen (SIGSTOP) while running,
so the window may show the one board after the last one logged (at most one
more line) and no result banner. ``end``: the window shows exactly the final
board and the banner in the colour of the logged outcome.

Prints one JSON object (what was seen) and exits 0 when it matches, 1 with
the reasons when it does not, 2 when the files cannot be read.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import sys
from typing import Dict, List, Optional, Set, Tuple

Pixel = Tuple[int, int, int]


class Image:
    def __init__(self, width: int, height: int, pixels: List[Pixel]) -> None:
        self.width = width
        self.height = height
        self.pixels = pixels

    def at(self, x: int, y: int) -> Pixel:
        return self.pixels[y * self.width + x]


def read_xwd(path: str) -> Image:
    data = open(path, "rb").read()
    if len(data) < 100:
        raise ValueError("too short for an XWD header")
    fields = struct.unpack(">25I", data[:100])
    (header_size, version, pixmap_format, _depth, width, height, _xoffset, byte_order, _unit, _bit_order,
     _pad, bits_per_pixel, bytes_per_line, _visual, red_mask, green_mask, blue_mask, _bits_rgb, _entries,
     ncolors) = fields[:20]
    if version != 7 or pixmap_format != 2 or bits_per_pixel not in (24, 32):
        raise ValueError(f"unsupported XWD (version {version}, format {pixmap_format}, {bits_per_pixel} bpp)")
    offset = header_size + 12 * ncolors
    if len(data) < offset + bytes_per_line * height:
        raise ValueError("truncated XWD image")
    step = bits_per_pixel // 8
    order = "little" if byte_order == 0 else "big"

    def channel(value: int, mask: int) -> int:
        shift = (mask & -mask).bit_length() - 1
        return ((value & mask) >> shift) * 255 // (mask >> shift)

    pixels: List[Pixel] = []
    for y in range(height):
        row = offset + y * bytes_per_line
        for x in range(width):
            value = int.from_bytes(data[row + x * step: row + x * step + step], order)
            pixels.append((channel(value, red_mask), channel(value, green_mask), channel(value, blue_mask)))
    return Image(width, height, pixels)


def save_png(image: Image, path: str) -> None:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame  # noqa: PLC0415 -- only for writing the PNG

    raw = bytes(channel for pixel in image.pixels for channel in pixel)
    pygame.image.save(pygame.image.frombuffer(raw, (image.width, image.height), "RGB"), path)


def close(a: Pixel, b: Pixel, tolerance: int = 24) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


def last_board(log: str) -> Tuple[Optional[str], Optional[int], Set[str]]:
    """The last logged board: its label (state/final), move number and drawn lines."""
    found: Tuple[Optional[str], Optional[int], Set[str]] = (None, None, set())
    for line in log.splitlines():
        match = re.match(r"(state|final): move=(\d+) .* lines=(.*)$", line)
        if match:
            lines = set() if match.group(3) == "-" else set(match.group(3).split())
            found = (match.group(1), int(match.group(2)), lines)
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--xwd", required=True)
    parser.add_argument("--png", required=True)
    parser.add_argument("--package", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--when", choices=["mid", "end"], required=True)
    args = parser.parse_args()

    sys.dont_write_bytecode = True  # the package directory is what gets published: leave it as it is
    sys.path.insert(0, args.package)
    try:
        import client  # noqa: PLC0415 -- the package's own layout and colours
        image = read_xwd(args.xwd)
        log = open(args.log, encoding="utf-8", errors="replace").read()
    except (OSError, ValueError, ImportError) as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    save_png(image, args.png)

    problems: List[str] = []
    seen: Dict[str, object] = {"size": [image.width, image.height]}
    if (image.width, image.height) != tuple(client.WINDOW_SIZE):
        problems.append(f"the window is {image.width}x{image.height}, the game draws {client.WINDOW_SIZE}")
        print(json.dumps({"seen": seen, "problems": problems}))
        return 1
    start = re.search(r"^start: .*, (\d+)x\d+ boxes$", log, re.MULTILINE)
    size = int(start.group(1)) if start else client.DEFAULT_SIZE
    layout = client.Layout(size)
    label, move, logged = last_board(log)
    seen.update({"logged": label, "move": move, "logged_lines": len(logged)})
    if label is None:
        problems.append("the log shows no board")

    banner_x, banner_y, banner_w, banner_h = layout.banner_rect()
    banner_pixel = image.at(banner_x + 20, banner_y + banner_h // 2)

    def under_banner(x: int, y: int) -> bool:
        return banner_x <= x < banner_x + banner_w and banner_y <= y < banner_y + banner_h

    outcome = re.search(r"^Result: (\w+)", log, re.MULTILINE)
    expect_banner = args.when == "end"
    drawn: Set[str] = set()
    hidden: Set[str] = set()
    for line in client.all_lines(size):
        name = client.line_name(line)
        x, y = layout.midpoint(line)
        if expect_banner and under_banner(x, y):
            hidden.add(name)
            continue
        if any(close(image.at(x, y), colour) for colour in client.PLAYER_COLOURS):
            drawn.add(name)
    seen.update({"drawn_on_screen": len(drawn), "under_banner": len(hidden)})
    visible_logged = logged - hidden
    missing = sorted(visible_logged - drawn)
    extra = sorted(drawn - visible_logged)
    if missing:
        problems.append("logged as drawn but not on the screen: " + " ".join(missing))
    allowed_extra = 1 if args.when == "mid" else 0
    if len(extra) > allowed_extra:
        problems.append(f"on the screen but not in the log (at most {allowed_extra} allowed): " + " ".join(extra))
    if args.when == "mid":
        if label != "state":
            problems.append(f"the last logged board is {label!r}, not a running match's")
        if any(close(banner_pixel, colour) for colour in list(client.BANNER.values()) + [client.LOST_BANNER]):
            problems.append(f"a result banner is shown mid-match ({banner_pixel})")
        if not drawn:
            problems.append("no line is drawn on the screen")
    else:
        if label != "final" or outcome is None:
            problems.append("the log shows no final board and result")
        else:
            expected = client.BANNER.get(outcome.group(1))
            seen["outcome"] = outcome.group(1)
            if expected is None or not close(banner_pixel, expected):
                problems.append(f"the banner at the board's middle is {banner_pixel}, not the {outcome.group(1)} "
                                f"colour {expected}")
    seen["banner_pixel"] = list(banner_pixel)
    print(json.dumps({"seen": seen, "problems": problems}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Dots and Boxes -- game client, in a window (pygame).

The player's launcher starts it in the background with ROOM_ID, MATCH_ID,
HOST, PORT, PLAYER_NAME and CLIENT_TOKEN (or CLIENT_TOKEN_PATH); it opens a
window on DISPLAY titled GAMESTORE_WINDOW_TITLE (gamestore-player proposes
one), else "Dots and Boxes - PLAYER".

    python3 client.py              # play with the mouse: click between two dots
    python3 client.py --bot        # play automatically (also: GAMESTORE_BOT=1)
    python3 client.py --bot --seed 7

Everything that happens is also written to stdout, one line per event (the
window, each board, the result), which gamestore-player keeps in the match's
client.log: tests read the board and the result from there.

Exit status: 0 after the result (or after leaving on purpose), 2 bad launch
environment or no display, 3 the server refused the handshake, 4 the
connection failed or the match was stopped.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

try:  # vendored next to this file (with gamestore_sdk.py) in a published package
    import gamekit
except ImportError:  # running from the source tree (games/dots_and_boxes)
    _root = Path(__file__).resolve().parents[2]
    sys.path[:0] = [str(_root / "sdk" / "python"), str(_root / "games" / "common")]
    import gamekit

from dots_and_boxes import DEFAULT_SIZE, Board, Line, all_lines, choose_line

GAME_NAME = "Dots and Boxes"
WINDOW_SIZE = (460, 580)
#: A bot waits this long before each move, so a person can follow the game.
BOT_DELAY_SEC = 0.25
#: How long the result (or a lost connection) stays on screen before the
#: window closes by itself; any key or click closes it at once. Shorter than
#: the time gamestore-player gives a client after the match ended (10 s).
HOLD_SEC = 8.0
BOT_HOLD_SEC = 2.0
FRAME_SEC = 1 / 30

BACKGROUND = (246, 244, 236)
INK = (40, 40, 48)
FAINT = (214, 212, 204)
#: Seat 1 and seat 2; claimed boxes are filled with the pale variant.
PLAYER_COLOURS = ((44, 104, 214), (214, 58, 48))
PALE_COLOURS = ((196, 212, 244), (244, 202, 196))
BANNER = {"WIN": (40, 150, 70), "LOSE": (170, 40, 40), "DRAW": (190, 150, 30),
          "QUIT": (110, 110, 110), "ERROR": (170, 40, 40)}
LOST_BANNER = (90, 60, 130)


class Layout:
    """Where things are in the window. Pure geometry, so a test can find the
    board in a screenshot with the game's own numbers."""

    def __init__(self, size: int = DEFAULT_SIZE, window: Tuple[int, int] = WINDOW_SIZE) -> None:
        self.size = size
        self.window = window
        self.margin = 50
        self.top = 110
        self.spacing = (window[0] - 2 * self.margin) // size
        self.line_width = 8
        self.dot_radius = 7

    def dot(self, row: int, col: int) -> Tuple[int, int]:
        return self.margin + col * self.spacing, self.top + row * self.spacing

    def midpoint(self, line: Line) -> Tuple[int, int]:
        orientation, row, col = line
        x, y = self.dot(row, col)
        return (x + self.spacing // 2, y) if orientation == "h" else (x, y + self.spacing // 2)

    def box_centre(self, row: int, col: int) -> Tuple[int, int]:
        x, y = self.dot(row, col)
        return x + self.spacing // 2, y + self.spacing // 2

    def board_bottom(self) -> int:
        return self.top + self.size * self.spacing

    def banner_rect(self) -> Tuple[int, int, int, int]:
        """(x, y, width, height) of the result banner, across the board's middle."""
        height = 110
        return 20, self.top + self.size * self.spacing // 2 - height // 2, self.window[0] - 40, height

    def nearest_line(self, position: Tuple[int, int]) -> Optional[Line]:
        """The line under the mouse: the closest midpoint within a third of a
        box, else None."""
        best: Optional[Line] = None
        best_distance = (self.spacing / 3) ** 2
        for line in all_lines(self.size):
            mx, my = self.midpoint(line)
            distance = (mx - position[0]) ** 2 + (my - position[1]) ** 2
            if distance <= best_distance:
                best, best_distance = line, distance
        return best


def line_name(line: Line) -> str:
    return f"{line[0]}{line[1]}.{line[2]}"


def log(text: str) -> None:
    print(text, flush=True)


class Window:
    """The pygame window. Imported lazily: the rules and the layout must load
    where pygame is not installed (the server's sandbox, the tests)."""

    def __init__(self, title: str, headless: bool, seat: Optional[int]) -> None:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        if headless:
            os.environ["SDL_VIDEODRIVER"] = "dummy"
        if seat is not None and "SDL_VIDEO_WINDOW_POS" not in os.environ:
            # Two players on one screen: side by side, in seat order (where
            # the display lets a program choose; a window manager decides
            # otherwise). Read once, when the window is created.
            os.environ["SDL_VIDEO_WINDOW_POS"] = f"{20 + seat * (WINDOW_SIZE[0] + 20)},20"
        import pygame  # noqa: PLC0415 -- see the class comment

        self.pg = pygame
        pygame.display.init()
        pygame.font.init()
        self.surface = pygame.display.set_mode(WINDOW_SIZE)
        pygame.display.set_caption(title)
        self.title = title
        self.fonts = {size: pygame.font.Font(None, size) for size in (22, 28, 34, 44)}
        info = pygame.display.get_wm_info()
        self.window_id = info.get("window") if isinstance(info.get("window"), int) else None

    def text(self, text: str, size: int, colour: Tuple[int, int, int], centre: Tuple[int, int]) -> None:
        image = self.fonts[size].render(text, True, colour)
        self.surface.blit(image, image.get_rect(center=centre))


class DotsAndBoxesClient:
    def __init__(self, window: Window, link: gamekit.ServerLink, me: str, rng: Optional[random.Random],
                 bot_delay: float = BOT_DELAY_SEC, hold: float = HOLD_SEC) -> None:
        self.window = window
        self.bot_delay = bot_delay
        self.hold = hold
        self.pg = window.pg
        self.link = link
        self.me = me
        self.rng = rng  # None: a person plays
        self.players: List[str] = []
        self.board = Board(DEFAULT_SIZE)
        self.layout = Layout(DEFAULT_SIZE)
        self.scores: Dict[str, int] = {}
        self.turn: Optional[str] = None
        self.move_number = 0
        self.turn_timeout = 0.0
        self.idle_limit = 300.0
        self.pending = False  # a move was sent and not yet answered
        self.hover: Optional[Line] = None
        self.notice = ""
        self.waiting_for: List[str] = []
        self.outcome: Optional[str] = None  # the game is over for us: WIN/LOSE/DRAW/QUIT/ERROR
        self.headline = ""
        self.detail = ""
        self.lost = ""  # why the connection to the server ended early
        self.exit_status: Optional[int] = None
        self.close_at: Optional[float] = None
        self.next_bot_move = 0.0
        self.dirty = True
        self.shown_move = -1  # the last board logged
        self.shown_end = False
        self.result_lines: List[str] = []

    # ---- model ---------------------------------------------------------------

    def colour_of(self, name: Optional[str], pale: bool = False) -> Tuple[int, int, int]:
        palette = PALE_COLOURS if pale else PLAYER_COLOURS
        return palette[self.players.index(name)] if name in self.players else INK

    def apply_state(self, message: Dict[str, Any]) -> None:
        try:
            self.board = Board.from_wire(message)
        except (TypeError, ValueError):
            return  # keep the last good board; the next state will fix it
        if self.board.size != self.layout.size:
            self.layout = Layout(self.board.size)
        scores = message.get("scores")
        self.scores = {str(k): int(v) for k, v in scores.items()} if isinstance(scores, dict) else {}
        self.turn = message.get("turn") if isinstance(message.get("turn"), str) else None
        self.move_number = int(message.get("move_number") or 0)

    def status_line(self) -> str:
        if self.lost:
            return self.lost
        if self.outcome:
            return self.detail
        if self.waiting_for:
            return "Waiting for " + ", ".join(self.waiting_for) + " to join..."
        if not self.players:
            return "Connecting..."
        if self.turn == self.me:
            return "Your turn: " + ("the bot is thinking..." if self.rng else "click between two dots.")
        if self.turn:
            return f"{self.turn}'s turn..."
        return ""

    # ---- server messages -----------------------------------------------------

    def handle(self, message: Dict[str, Any]) -> None:
        kind = message.get("type")
        self.dirty = True
        if kind == "waiting":
            self.waiting_for = [str(name) for name in message.get("missing") or []]
        elif kind == "start":
            self.waiting_for = []
            self.players = [str(name) for name in message.get("players") or []]
            self.turn_timeout = float(message.get("turn_timeout_sec") or 0)
            self.idle_limit = max(300.0, 2 * self.turn_timeout + 30)
            size = message.get("size")
            if isinstance(size, int) and not isinstance(size, bool):
                self.layout = Layout(size)
            log(f"start: {' vs '.join(f'{n} ({c})' for n, c in zip(self.players, ('blue', 'red')))}, "
                f"{self.layout.size}x{self.layout.size} boxes")
        elif kind == "state":
            self.apply_state(message)
            self.pending = False
            self.notice = ""
            self.hover = None
            self.next_bot_move = time.monotonic() + self.bot_delay
        elif kind == "rejected":
            self.pending = False
            self.notice = str(message.get("reason") or "The server refused that move.")
            log(f"rejected: {self.notice}")
        elif kind == "game_over":
            self.apply_state(message)
            self.turn = None
            self.finish(str(message.get("outcome") or "?"), str(message.get("reason") or ""), message)
        elif kind == "removed":
            self.finish(str(message.get("outcome") or "QUIT"), f"You are out: {message.get('reason')}", message)
        elif kind == "aborted":
            self.connection_lost(f"The match was stopped: {message.get('reason')}")
        # Unknown types are ignored: a newer server may send more.

    def finish(self, outcome: str, detail: str, message: Dict[str, Any]) -> None:
        headlines = {"WIN": "You win!", "LOSE": "You lose.", "DRAW": "It's a draw.",
                     "QUIT": "You left the match.", "ERROR": "Removed: protocol error."}
        self.outcome = outcome
        self.headline = headlines.get(outcome, outcome)
        self.detail = detail
        self.exit_status = gamekit.EXIT_OK
        self.close_at = time.monotonic() + self.hold
        self.result_lines = gamekit.result_lines(gamekit.Terminal(sys.stdout), message, self.me) \
            if message.get("type") == "game_over" else [f"Result: {outcome}"]

    def connection_lost(self, reason: str) -> None:
        if self.outcome or self.lost:
            return
        self.lost = reason
        self.exit_status = gamekit.EXIT_LOST
        self.close_at = time.monotonic() + self.hold
        self.dirty = True

    # ---- moves -----------------------------------------------------------------

    def my_move_possible(self) -> bool:
        return self.turn == self.me and not self.pending and not self.outcome and not self.lost

    def send_move(self, line: Line) -> None:
        if line in self.board.lines:
            self.notice = "That line is already drawn: choose another one."
            self.dirty = True
            return
        orientation, row, col = line
        if self.rng is not None:
            log(f"move {self.move_number + 1}: {self.me} draws {line_name(line)}")
        if self.link.send({"type": "move", "orientation": orientation, "row": row, "col": col}):
            self.pending = True
        else:
            self.connection_lost("Lost the game server: the move could not be sent.")

    def bot_turn(self) -> None:
        assert self.rng is not None
        if self.my_move_possible() and self.board.free_lines() and time.monotonic() >= self.next_bot_move:
            self.send_move(choose_line(self.board, self.rng))

    # ---- drawing ---------------------------------------------------------------

    def draw(self) -> None:
        pg, w, lay = self.pg, self.window, self.layout
        surface = w.surface
        surface.fill(BACKGROUND)
        w.text(GAME_NAME.upper(), 34, INK, (WINDOW_SIZE[0] // 2, 24))
        for seat, name in enumerate(self.players[:2]):
            x = WINDOW_SIZE[0] // 4 + seat * WINDOW_SIZE[0] // 2
            label = name + (" (you)" if name == self.me else "")
            if name == self.turn:
                pg.draw.rect(surface, self.colour_of(name, pale=True), (x - 105, 44, 210, 52), border_radius=8)
            w.text(label, 28, self.colour_of(name), (x, 60))
            boxes = self.scores.get(name, 0)
            w.text(f"{boxes} box" + ("" if boxes == 1 else "es"), 22, INK, (x, 84))
        for (row, col), owner in self.board.boxes.items():
            x, y = lay.dot(row, col)
            pg.draw.rect(surface, self.colour_of(owner, pale=True), (x, y, lay.spacing, lay.spacing))
            w.text(owner[:1].upper(), 44, self.colour_of(owner), lay.box_centre(row, col))
        for line in all_lines(lay.size):
            start = lay.dot(line[1], line[2])
            end = lay.dot(line[1], line[2] + 1) if line[0] == "h" else lay.dot(line[1] + 1, line[2])
            owner = self.board.lines.get(line)
            if owner is not None:
                pg.draw.line(surface, self.colour_of(owner), start, end, lay.line_width)
            elif line == self.hover and self.my_move_possible():
                pg.draw.line(surface, self.colour_of(self.me, pale=True), start, end, lay.line_width)
            else:
                pg.draw.line(surface, FAINT, start, end, 2)
        for row in range(lay.size + 1):
            for col in range(lay.size + 1):
                pg.draw.circle(surface, INK, lay.dot(row, col), lay.dot_radius)
        status_y = lay.board_bottom() + 30
        w.text(self.status_line(), 22, INK, (WINDOW_SIZE[0] // 2, status_y))
        if self.notice:
            w.text(self.notice, 22, PLAYER_COLOURS[1], (WINDOW_SIZE[0] // 2, status_y + 24))
        if self.outcome or self.lost:
            x, y, width, height = lay.banner_rect()
            colour = BANNER.get(self.outcome or "", INK) if self.outcome else LOST_BANNER
            pg.draw.rect(surface, colour, (x, y, width, height), border_radius=12)
            title = self.headline if self.outcome else "The game server went away"
            w.text(title, 44, BACKGROUND, (WINDOW_SIZE[0] // 2, y + 36))
            sub = self.detail if self.outcome else self.lost
            w.text(sub[:60], 22, BACKGROUND, (WINDOW_SIZE[0] // 2, y + 74))
            if self.close_at is not None:
                left = max(0, int(self.close_at - time.monotonic() + 0.999))
                w.text(f"This window closes in {left} s (any key closes it now).", 22, INK,
                       (WINDOW_SIZE[0] // 2, WINDOW_SIZE[1] - 16))
        pg.display.flip()

    # ---- the loop --------------------------------------------------------------

    def run(self) -> int:
        pg = self.pg
        last_heard = time.monotonic()
        countdown = -1
        # Bounded by the server: every turn has a server-side timeout, and
        # silence for idle_limit counts as a lost server; after the result the
        # window closes by itself at close_at.
        while True:
            for event in pg.event.get():
                if event.type == pg.QUIT:
                    if self.exit_status is None:
                        log("left: the window was closed")
                        return gamekit.EXIT_OK
                    return self.exit_status
                if self.exit_status is not None and event.type in (pg.KEYDOWN, pg.MOUSEBUTTONDOWN):
                    return self.exit_status
                if self.rng is None and event.type == pg.MOUSEMOTION:
                    hover = self.layout.nearest_line(event.pos)
                    if hover != self.hover:
                        self.hover, self.dirty = hover, True
                elif self.rng is None and event.type == pg.MOUSEBUTTONDOWN and event.button == 1:
                    line = self.layout.nearest_line(event.pos)
                    if line is not None and self.my_move_possible():
                        self.send_move(line)
            if self.exit_status is None:
                try:
                    # One message at a time, each board drawn and logged, so
                    # the log holds every board the window showed.
                    while self.exit_status is None:
                        message = self.link.get(0)
                        if message is None:
                            break
                        last_heard = time.monotonic()
                        self.handle(message)
                        if message.get("type") in ("state", "game_over"):
                            self.redraw()
                except gamekit.LinkClosed as exc:
                    self.connection_lost(f"Lost the game server: {exc}.")
                if self.exit_status is None and time.monotonic() - last_heard > self.idle_limit:
                    self.connection_lost(f"The game server has been silent for {self.idle_limit:g} s.")
            if self.close_at is not None:
                left = int(self.close_at - time.monotonic() + 0.999)
                if left != countdown:
                    countdown, self.dirty = left, True
            if self.dirty:
                self.redraw()
            if self.close_at is not None and countdown <= 0:
                return self.exit_status if self.exit_status is not None else gamekit.EXIT_OK
            if self.rng is not None:
                self.bot_turn()
            time.sleep(FRAME_SEC)

    def redraw(self) -> None:
        """Draws the window; a new board or the end is then logged (after the
        flip: what the log says is on the screen)."""
        self.draw()
        self.dirty = False
        if self.players and not self.outcome and not self.lost and self.move_number != self.shown_move:
            self.shown_move = self.move_number
            self.log_board("state")
        if (self.outcome or self.lost) and not self.shown_end:
            self.shown_end = True
            self.log_end()

    def log_board(self, label: str) -> None:
        scores = ",".join(f"{name}:{self.scores.get(name, 0)}" for name in self.players)
        log(f"{label}: move={self.move_number} turn={self.turn or '-'} scores={scores} lines={self.board.text()}")

    def log_end(self) -> None:
        if self.lost:
            log(f"lost: {self.lost}")
            return
        self.log_board("final")
        log(f"shown: {self.headline} {self.detail}")
        for line in self.result_lines:
            log(line)


def main(argv: Optional[Sequence[str]] = None) -> int:
    def options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--title", default=None,
                            help='window title (default: GAMESTORE_WINDOW_TITLE, else "Dots and Boxes - PLAYER")')
        parser.add_argument("--bot-delay", type=float, default=BOT_DELAY_SEC, metavar="SEC",
                            help=f"the bot's pause before each move (default {BOT_DELAY_SEC:g})")
        parser.add_argument("--hold", type=float, default=None, metavar="SEC",
                            help=f"how long the result stays on screen (default {HOLD_SEC:g}, "
                                 f"{BOT_HOLD_SEC:g} for a bot, 0 without a display)")

    joined = gamekit.connect("Dots and Boxes client (a window)", argv, options)
    if isinstance(joined, int):
        return joined
    args, ctx, link, response = joined
    title = args.title or os.environ.get("GAMESTORE_WINDOW_TITLE") or f"{GAME_NAME} - {ctx.player_name}"
    # A bot can play without a screen (the sim, a headless test): it then
    # draws off-screen. A person needs a display.
    headless = not os.environ.get("DISPLAY") and not os.environ.get("SDL_VIDEODRIVER")
    if headless and not args.bot:
        print("Dots and Boxes plays in a window, and there is no display (DISPLAY is not set).", file=sys.stderr)
        link.close()
        return gamekit.EXIT_ENV
    try:
        seat = response.get("assigned_player_index")
        window = Window(title, headless, seat if isinstance(seat, int) and not isinstance(seat, bool) else None)
    except Exception as exc:  # noqa: BLE001 -- no pygame, or the display refused us: say which
        print(f"Cannot open the window on {os.environ.get('DISPLAY') or 'the screen'}: {exc}", file=sys.stderr)
        link.close()
        return gamekit.EXIT_ENV
    window_id = f"0x{window.window_id:x}" if window.window_id is not None else "-"
    log(f'window: "{title}" id={window_id} size={WINDOW_SIZE[0]}x{WINDOW_SIZE[1]} pid={os.getpid()} '
        f"display={os.environ.get('DISPLAY') or 'none'}")
    rng = random.Random(args.seed) if args.bot else None
    hold = args.hold if args.hold is not None else 0.0 if headless else BOT_HOLD_SEC if args.bot else HOLD_SEC
    game = DotsAndBoxesClient(window, link, ctx.player_name, rng, max(0.0, args.bot_delay), max(0.0, hold))
    try:
        return game.run()
    except KeyboardInterrupt:
        log("left: interrupted")
        return gamekit.EXIT_OK
    finally:
        link.close()
        window.pg.quit()


if __name__ == "__main__":
    sys.exit(main())

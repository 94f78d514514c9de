#!/usr/bin/env python3
"""Liar's Dice -- game client.

The player's launcher starts it in the player's terminal with ROOM_ID,
MATCH_ID, HOST, PORT, PLAYER_NAME and CLIENT_TOKEN (or CLIENT_TOKEN_PATH).

    python3 client.py              # play at the keyboard: "5 4" bids five 4s, "liar" challenges
    python3 client.py --bot        # play automatically (also: GAMESTORE_BOT=1)
    python3 client.py --bot --seed 7

Exit status: 0 after the result (or after leaving on purpose), 2 bad launch
environment, 3 the server refused the handshake, 4 the connection failed or
the match was stopped.
"""

from __future__ import annotations

import collections
import random
import re
import sys
from pathlib import Path
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple

try:  # vendored next to this file (with gamestore_sdk.py) in a published package
    import gamekit
except ImportError:  # running from the source tree (games/liars_dice)
    _root = Path(__file__).resolve().parents[2]
    sys.path[:0] = [str(_root / "sdk" / "python"), str(_root / "games" / "common")]
    import gamekit

from liars_dice import FACES, Bid, bid_problem, choose_action, lowest_face

QUIT_WORDS = {"q", "quit", "exit", "leave"}
LIAR_WORDS = {"liar", "l", "call", "challenge"}
HELP_WORDS = {"h", "help", "?"}
RECENT_EVENTS = 6
TITLE = "LIAR'S DICE"


def parse_bid(text: str) -> Optional[Tuple[int, int]]:
    """"5 4", "5x4", "5 x 4s", "bid 5 4" -> (5, 4); None if it is not two numbers."""
    cleaned = re.sub(r"^\s*bid\b", "", text.strip().lower())
    cleaned = re.sub(r"(?<=\d)s\b", "", cleaned)  # "4s" -> "4"
    parts = [part for part in re.split(r"[\sx×*,]+", cleaned) if part]
    if len(parts) != 2 or not all(part.isdigit() and len(part) <= 4 for part in parts):
        return None
    return int(parts[0]), int(parts[1])


class LiarsDiceClient(gamekit.ClientGame):
    def __init__(self, terminal: gamekit.Terminal, link: gamekit.ServerLink, me: str,
                 rng: Optional[random.Random]) -> None:
        self.terminal = terminal
        self.link = link
        self.me = me
        self.rng = rng  # None: a person plays
        self.players: List[str] = []
        self.wild_ones = True
        self.turn_timeout = 0.0
        self.round = 0
        self.dice: List[int] = []
        self.turn: Optional[str] = None
        self.bid: Optional[Bid] = None
        self.bidder: Optional[str] = None
        self.history: List[Dict[str, Any]] = []
        self.rows: List[Dict[str, Any]] = []
        self.total_dice = 0
        self.pending = False
        self.notice = ""
        self.last_challenge: List[str] = []
        self.recent: Deque[str] = collections.deque(maxlen=RECENT_EVENTS)

    # ---- display ---------------------------------------------------------------

    def die(self, value: int) -> str:
        styles: List[str] = []
        if self.wild_ones and value == 1:
            styles = ["cyan", "bold"]
        elif self.bid is not None and value == self.bid.face:
            styles = ["green", "bold"]
        return self.terminal.style(f"[{value}]", *styles)

    def log(self, line: str) -> None:
        self.recent.append(line)
        if self.rng is not None:
            self.terminal.say(line)

    def render(self) -> None:
        if self.rng is not None:
            return  # the bot prints one line per event instead of screens
        t = self.terminal
        rules = "ones are wild" if self.wild_ones else "no wild ones"
        lines = [f"  {t.style(TITLE, 'bold', 'cyan')}   round {self.round}   "
                 f"{rules}   {self.total_dice} dice in play", "", "  Players (in turn order):"]
        for row in self.rows:
            name = str(row.get("name"))
            marker = ">" if name == self.turn else " "
            status = row.get("status")
            if status == "in":
                what = f"{row.get('dice')} dice"
            else:
                what = "out" if status == "out" else "left"
            you = "  (you)" if name == self.me else ""
            text = f"  {marker} {name:<16} {what}{you}"
            lines.append(t.style(text, "bold") if name == self.turn else text)
        lines.append("")
        if self.dice:
            lines.append("  Your dice: " + " ".join(self.die(value) for value in self.dice))
        else:
            lines.append("  You have no dice: you are watching.")
        lines.append("")
        if self.history:
            lines.append("  Bids this round:")
            for index, entry in enumerate(self.history):
                current = "   <- current bid" if index == len(self.history) - 1 else ""
                lines.append(f"    {entry.get('player')}: {entry.get('quantity')} x {entry.get('face')}{current}")
        else:
            lines.append("  No bid yet this round.")
        if self.last_challenge:
            lines.append("")
            lines.extend(self.last_challenge)
        if self.recent:
            lines.append("")
            lines.append("  Recent:")
            lines.extend(f"    {line}" for line in self.recent)
        lines.append("")
        if self.turn == self.me:
            challenge = f', or "liar" to challenge {self.bidder}' if self.bid else ""
            lines.append(t.style("  Your turn.", "bold")
                         + f' Bid "QUANTITY FACE" (e.g. "3 5" = at least three 5s){challenge}.')
            lines.append(f"  You have {self.turn_timeout:g} s. Type help for the rules.")
        elif self.turn:
            lines.append(f"  Waiting for {self.turn}...")
        if self.notice:
            lines.append(t.style(f"  {self.notice}", "yellow"))
        t.screen(lines)

    def help_lines(self) -> List[str]:
        low = lowest_face(self.wild_ones)
        wild = "Ones are wild: they count as every face, and you bid faces 2-6." if self.wild_ones \
            else f"Faces 1-{FACES} can be bid; ones are not wild."
        return [
            "  Everyone has hidden dice. A bid claims that among ALL dice on the table",
            "  at least QUANTITY show FACE. Each bid must beat the last: more dice, or",
            f"  the same number of a higher face. {wild}",
            '  Type a bid as "3 5" (three 5s), or "liar" if you think the last bid is false.',
            "  Whoever is wrong loses a die; the last player with dice wins. q leaves.",
            f"  Faces go from {low} to {FACES}; you may bid at most {self.total_dice} dice.",
        ]

    # ---- state -------------------------------------------------------------------

    def apply_state(self, message: Dict[str, Any]) -> None:
        self.round = int(message.get("round") or self.round)
        self.turn = message.get("turn")
        bid = message.get("bid")
        self.bid = Bid(int(bid["quantity"]), int(bid["face"])) if isinstance(bid, dict) else None
        self.bidder = message.get("bidder")
        self.history = [entry for entry in message.get("history") or [] if isinstance(entry, dict)]
        self.rows = [row for row in message.get("players") or [] if isinstance(row, dict)]
        self.total_dice = int(message.get("total_dice") or 0)

    def describe_reveal(self, message: Dict[str, Any]) -> List[str]:
        bid = message.get("bid") or {}
        quantity, face = bid.get("quantity"), bid.get("face")
        count = message.get("count")
        holds = isinstance(count, int) and isinstance(quantity, int) and count >= quantity
        verdict = "the bid holds" if holds else "the bid was a lie"
        loser = message.get("loser")
        loses = f"{loser} loses a die" + (" and is out!" if message.get("eliminated") else ".")
        wild = " (ones count)" if self.wild_ones else ""
        lines = [f"  Last challenge: {message.get('challenger')} called liar on {message.get('bidder')}'s "
                 f"{quantity} x {face}. There were {count}{wild}: {verdict}; {loses}"]
        dice = message.get("dice") if isinstance(message.get("dice"), dict) else {}
        for name, values in dice.items():
            shown = " ".join(f"[{value}]" for value in values) if isinstance(values, list) else "?"
            lines.append(f"    {name:<16} {shown}")
        return lines

    def bot_act(self) -> None:
        assert self.rng is not None
        action, bid = choose_action(self.dice, self.bid, self.total_dice, self.wild_ones, self.rng)
        if action == "liar":
            self.terminal.say(f"round {self.round}: {self.me} calls liar on {self.bidder}'s {self.bid}")
            self.pending = self.link.send({"type": "liar"})
        else:
            assert bid is not None
            self.terminal.say(f"round {self.round}: {self.me} bids {bid}")
            self.pending = self.link.send({"type": "bid", **bid.to_dict()})

    # ---- ClientGame hooks -----------------------------------------------------------

    def handle(self, message: Dict[str, Any]) -> Optional[int]:
        kind = message.get("type")
        t = self.terminal
        if kind == "waiting":
            if self.rng is None:
                t.screen(gamekit.waiting_lines(t, TITLE, message))
        elif kind == "start":
            self.players = [str(name) for name in message.get("players") or []]
            self.wild_ones = bool(message.get("wild_ones", True))
            self.turn_timeout = float(message.get("turn_timeout_sec") or 0)
            self.idle_limit = max(300.0, 2 * self.turn_timeout + 30)
            absent = message.get("absent") or []
            self.log(f"Game on: {', '.join(self.players)}."
                     + (f" Not here: {', '.join(absent)}." if absent else ""))
        elif kind == "round":
            self.round = int(message.get("round") or self.round)
            self.dice = [int(value) for value in message.get("dice") or []]
            self.log(f"Round {self.round}: " + (f"you rolled {' '.join(map(str, self.dice))}." if self.dice
                                                 else "you are watching."))
        elif kind == "state":
            previous = len(self.history)
            self.apply_state(message)
            if len(self.history) > previous and self.history and self.history[-1].get("player") != self.me:
                last = self.history[-1]
                self.log(f"{last.get('player')} bids {last.get('quantity')} x {last.get('face')}.")
            self.pending = False
            self.notice = ""
            self.render()
            if self.rng is not None and self.turn == self.me:
                self.bot_act()
        elif kind == "reveal":
            self.last_challenge = self.describe_reveal(message)
            self.log(self.last_challenge[0].strip().replace("Last challenge: ", ""))
            self.history = []
        elif kind == "player_left":
            self.log(f"{message.get('player')} left the game ({message.get('reason')})"
                     + ("; the round starts again with fresh dice." if message.get("round_restarted") else "."))
        elif kind == "rejected":
            self.pending = False
            self.notice = str(message.get("reason") or "The server refused that.")
            if self.rng is not None:
                t.say(f"rejected: {self.notice}")
                if self.turn == self.me:
                    # Out of step with the server: fall back to the one action that is always legal.
                    if self.bid is not None:
                        self.pending = self.link.send({"type": "liar"})
                    else:
                        self.pending = self.link.send({"type": "bid", "quantity": 1,
                                                       "face": lowest_face(self.wild_ones)})
            else:
                self.render()
        elif kind == "game_over":
            self.turn = None
            lines = gamekit.result_lines(t, message, self.me)
            if self.rng is None:
                t.screen([f"  {t.style(TITLE, 'bold', 'cyan')}", ""]
                         + self.last_challenge + [""] + lines)
            else:
                for line in lines:
                    t.say(line)
            return gamekit.EXIT_OK
        elif kind == "removed":
            t.say(f"You are out of the match: {message.get('reason')}")
            t.say(f"Result: {message.get('outcome', 'QUIT')}")
            return gamekit.EXIT_OK
        elif kind == "aborted":
            t.say(f"The match was stopped: {message.get('reason')}")
            return gamekit.EXIT_LOST
        return None  # unknown types are ignored: a newer server may send more

    def awaiting_input(self) -> bool:
        return self.turn == self.me and not self.pending

    def prompt_text(self) -> str:
        return '  Your move ("3 5", "liar", help, q): '

    def handle_input(self, line: str) -> Optional[int]:
        text = line.strip()
        t = self.terminal
        lowered = text.lower()
        if lowered in QUIT_WORDS:
            self.link.close()
            t.say("You left the match (it counts as QUIT).")
            return gamekit.EXIT_OK
        if lowered in HELP_WORDS:
            for help_line in self.help_lines():
                t.say(help_line)
            return None
        if lowered in LIAR_WORDS:
            if self.bid is None:
                t.say("  There is no bid to challenge yet: open the round with a bid, e.g. \"2 5\".")
                return None
            return self._send({"type": "liar"})
        if not text:
            t.say('  Type a bid like "3 5" (at least three 5s), "liar", or help.')
            return None
        parsed = parse_bid(text)
        if parsed is None:
            t.say(f'  {text[:20]!r} is not a bid: type two numbers, quantity then face, e.g. "3 5"; or "liar".')
            return None
        problem = bid_problem(parsed[0], parsed[1], self.bid, self.total_dice, self.wild_ones)
        if problem is not None:
            t.say(f"  {problem}")
            return None
        return self._send({"type": "bid", "quantity": parsed[0], "face": parsed[1]})

    def _send(self, message: Dict[str, Any]) -> Optional[int]:
        if not self.link.send(message):
            self.terminal.say("  Could not send your move: the connection is broken.")
            return gamekit.EXIT_LOST
        self.pending = True
        return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    return gamekit.client_main("Liar's Dice client", argv, LiarsDiceClient)


if __name__ == "__main__":
    sys.exit(main())

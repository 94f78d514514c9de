"""Liar's Dice rules, shared by the server (authoritative) and the client
(local checks for friendlier messages, and the bot). No I/O here.

Rules (the common "Perudo"-style game):

* Every player starts with 5 dice. Each round everybody rolls, keeping
  their dice hidden from the others.
* Players take turns in seat order. On your turn you either **bid** -- a
  claim that, among *all* dice on the table, at least QUANTITY show FACE --
  or call **liar** on the previous bid.
* A bid must beat the previous one: a higher quantity (any face), or the
  same quantity of a higher face. The quantity is at most the number of
  dice in play. With wild ones (the default) ones count as every face and
  cannot be bid themselves: faces are 2-6. Without wild ones, faces are 1-6.
* On "liar" all dice are shown. If the bid holds (at least QUANTITY
  matching dice), the challenger loses a die; otherwise the bidder does. The
  loser starts the next round (or, if that was their last die, the next
  player still in).
* A player with no dice left is out. The last player with dice wins.
* A player who leaves (disconnects, times out) is out at once; the round in
  progress is replayed with fresh dice, because the leaver's hidden dice
  were part of every bid.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Dict, List, Optional, Sequence, Tuple

DICE_PER_PLAYER = 5
MAX_DICE_PER_PLAYER = 10
FACES = 6


class IllegalMove(ValueError):
    """An action the rules forbid; ``str(exc)`` is a sentence for the player."""


@dataclasses.dataclass(frozen=True)
class Bid:
    quantity: int
    face: int

    def beats(self, other: Optional["Bid"]) -> bool:
        if other is None:
            return True
        return self.quantity > other.quantity or (self.quantity == other.quantity and self.face > other.face)

    def to_dict(self) -> Dict[str, int]:
        return {"quantity": self.quantity, "face": self.face}

    def __str__(self) -> str:
        return f"{self.quantity} x {self.face}"


def lowest_face(wild_ones: bool) -> int:
    return 2 if wild_ones else 1


def bid_problem(quantity: object, face: object, current: Optional[Bid], total_dice: int,
                wild_ones: bool) -> Optional[str]:
    """Why (quantity, face) is not a legal bid now, or None if it is."""
    low = lowest_face(wild_ones)
    for value in (quantity, face):
        if isinstance(value, bool) or not isinstance(value, int):
            return "A bid needs two whole numbers: how many dice, and which face."
    assert isinstance(quantity, int) and isinstance(face, int)
    if face == 1 and wild_ones:
        return f"Ones are wild and cannot be bid: choose a face from {low} to {FACES}."
    if not low <= face <= FACES:
        return f"Face {face} does not exist: choose a face from {low} to {FACES}."
    if quantity < 1:
        return "A bid needs at least one die."
    if quantity > total_dice:
        return f"There are only {total_dice} dice in play: bid at most {total_dice}."
    if not Bid(quantity, face).beats(current):
        assert current is not None
        if current.face >= FACES:
            return f"Your bid must beat {current}: bid more than {current.quantity} dice."
        return (f"Your bid must beat {current}: bid more than {current.quantity} dice, "
                f"or {current.quantity} dice of a face higher than {current.face}.")
    return None


def count_matching(dice: Sequence[int], face: int, wild_ones: bool) -> int:
    return sum(1 for die in dice if die == face or (wild_ones and die == 1))


def rank_by_exit(players: Sequence[str], exit_order: Sequence[Sequence[str]]) -> Dict[str, int]:
    """Competition ranking ("1224") by when players went out: the later, the
    better. ``exit_order`` lists groups that went out at the same moment;
    players in no group are still in and share rank 1."""
    out = {name for group in exit_order for name in group}
    ranks = {name: 1 for name in players if name not in out}
    better = len(ranks)
    for group in reversed(exit_order):
        for name in group:
            ranks[name] = better + 1
        better += len(group)
    return ranks


@dataclasses.dataclass(frozen=True)
class Reveal:
    """What a "liar" call showed."""

    challenger: str
    bidder: str
    bid: Bid
    count: int
    dice: Dict[str, List[int]]
    loser: str
    eliminated: bool


class LiarsDice:
    """One game. Change it only through :meth:`start`, :meth:`place_bid`,
    :meth:`call_liar` and :meth:`remove`; each rule violation raises
    :class:`IllegalMove` with a sentence for the player."""

    def __init__(self, players: Sequence[str], *, dice_per_player: int = DICE_PER_PLAYER, wild_ones: bool = True,
                 rng: Optional[random.Random] = None) -> None:
        if len(players) < 1 or len(set(players)) != len(players):
            raise ValueError("Liar's Dice needs distinct player names")
        if not 1 <= dice_per_player <= MAX_DICE_PER_PLAYER:
            raise ValueError(f"dice per player must be 1-{MAX_DICE_PER_PLAYER}")
        self.players: Tuple[str, ...] = tuple(players)
        self.dice_per_player = dice_per_player
        self.wild_ones = wild_ones
        self.rng = rng or random.Random()
        self.dice_count: Dict[str, int] = {name: dice_per_player for name in players}
        self.dice: Dict[str, List[int]] = {name: [] for name in players}
        self.outcomes: Dict[str, str] = {}  # players who are out: LOSE, QUIT or ERROR
        self.exit_order: List[List[str]] = []
        self.round = 0
        self.bid: Optional[Bid] = None
        self.bidder: Optional[str] = None
        self.history: List[Tuple[str, Bid]] = []
        self.turn: Optional[str] = None
        self.turn_id = 0  # changes whenever the turn passes (the server's timeout clock)
        self.winner: Optional[str] = None
        self.challenges_won: Dict[str, int] = {name: 0 for name in players}

    # ---- queries -------------------------------------------------------------

    @property
    def active(self) -> List[str]:
        """Players still in, in seat order."""
        return [name for name in self.players if name not in self.outcomes]

    @property
    def total_dice(self) -> int:
        return sum(self.dice_count[name] for name in self.active)

    @property
    def over(self) -> bool:
        return self.winner is not None or not self.active

    def next_active_after(self, player: str) -> Optional[str]:
        """The first player still in after ``player``'s seat (``player`` may be out)."""
        start = self.players.index(player)
        for step in range(1, len(self.players) + 1):
            name = self.players[(start + step) % len(self.players)]
            if name not in self.outcomes:
                return name
        return None

    def standings(self) -> List[Tuple[str, str, int, int]]:
        """(player, outcome, rank, score) in seat order. Rank by elimination
        order; score = number of players ranked below."""
        ranks = rank_by_exit(self.players, self.exit_order)
        rows = []
        for name in self.players:
            outcome = self.outcomes.get(name) or ("WIN" if name == self.winner else "LOSE")
            rank = ranks[name]
            score = sum(1 for other in self.players if ranks[other] > rank)
            rows.append((name, outcome, rank, score))
        return rows

    # ---- actions ---------------------------------------------------------------

    def start(self, absent: Optional[Dict[str, str]] = None) -> None:
        """Begin the game. ``absent`` maps players who are not there (never
        joined, or left while the others joined) to their outcome; they go
        out together, before the first roll."""
        if absent:
            self._eliminate(list(absent), "QUIT")
            self.outcomes.update(absent)
        self._check_winner()
        if not self.over:
            self._start_round(self.active[0])

    def _start_round(self, starter: str) -> None:
        self.round += 1
        self.bid = None
        self.bidder = None
        self.history = []
        for name in self.players:
            if name in self.outcomes:
                self.dice[name] = []
            else:
                self.dice[name] = sorted(self.rng.randint(1, FACES) for _ in range(self.dice_count[name]))
        self._set_turn(starter)

    def _set_turn(self, player: Optional[str]) -> None:
        self.turn = player
        self.turn_id += 1

    def _check_turn(self, player: str) -> None:
        if self.over:
            raise IllegalMove("The game is over.")
        if player not in self.players:
            raise IllegalMove(f"{player} is not playing in this game.")
        if player in self.outcomes:
            raise IllegalMove("You are out of the game: you can watch until it ends.")
        if player != self.turn:
            raise IllegalMove(f"It is not your turn: waiting for {self.turn}.")

    def place_bid(self, player: str, quantity: object, face: object) -> Bid:
        self._check_turn(player)
        problem = bid_problem(quantity, face, self.bid, self.total_dice, self.wild_ones)
        if problem is not None:
            raise IllegalMove(problem)
        assert isinstance(quantity, int) and isinstance(face, int)
        bid = Bid(quantity, face)
        self.bid = bid
        self.bidder = player
        self.history.append((player, bid))
        self._set_turn(self.next_active_after(player))
        return bid

    def call_liar(self, player: str) -> Reveal:
        self._check_turn(player)
        if self.bid is None or self.bidder is None:
            raise IllegalMove("There is no bid to challenge yet: open the round with a bid.")
        bid, bidder = self.bid, self.bidder
        shown = {name: list(self.dice[name]) for name in self.active}
        count = sum(count_matching(dice, bid.face, self.wild_ones) for dice in shown.values())
        loser = player if count >= bid.quantity else bidder
        winner_of_challenge = bidder if loser == player else player
        self.challenges_won[winner_of_challenge] += 1
        self.dice_count[loser] -= 1
        eliminated = self.dice_count[loser] == 0
        if eliminated:
            self._eliminate([loser], "LOSE")
        self._check_winner()
        if not self.over:
            self._start_round(loser if not eliminated else self.next_active_after(loser) or self.active[0])
        else:
            self._set_turn(None)
        return Reveal(player, bidder, bid, count, shown, loser, eliminated)

    def remove(self, player: str, outcome: str = "QUIT") -> bool:
        """``player`` left (disconnect, timeout). Returns True if that
        changed the game (they were still in); the round is then replayed
        with fresh dice."""
        if player not in self.players or player in self.outcomes or self.over:
            return False
        was_turn = self.turn == player
        self._eliminate([player], outcome)
        self._check_winner()
        if self.over:
            self._set_turn(None)
            return True
        starter = self.next_active_after(player) if was_turn or self.turn is None else self.turn
        self._start_round(starter or self.active[0])
        return True

    def _eliminate(self, names: List[str], outcome: str) -> None:
        group = [name for name in names if name not in self.outcomes]
        for name in group:
            self.outcomes[name] = outcome
            self.dice[name] = []
        if group:
            self.exit_order.append(group)

    def _check_winner(self) -> None:
        active = self.active
        if len(active) == 1 and self.winner is None:
            self.winner = active[0]


# --------------------------------------------------------------------------
# The bot
# --------------------------------------------------------------------------


def choose_action(my_dice: Sequence[int], current: Optional[Bid], total_dice: int, wild_ones: bool,
                  rng: random.Random) -> Tuple[str, Optional[Bid]]:
    """A simple probabilistic bot: ("liar", None) or ("bid", Bid).

    It estimates how many dice show a face: its own matching dice plus the
    expected share of everyone else's (1/3 per die with wild ones, else
    1/6). It calls liar on a bid that looks too high (with a little random
    daring), otherwise it raises on the face it holds most of, by the
    smallest step that beats the current bid. Always returns a legal action.
    """
    others = total_dice - len(my_dice)
    low = lowest_face(wild_ones)
    share = 2 / FACES if wild_ones else 1 / FACES

    def expected(face: int) -> float:
        return count_matching(my_dice, face, wild_ones) + others * share

    if current is not None and current.quantity > expected(current.face) + rng.uniform(0.0, 1.5):
        return "liar", None
    faces = list(range(low, FACES + 1))
    rng.shuffle(faces)  # random tie-break between equally good faces
    face = max(faces, key=lambda f: count_matching(my_dice, f, wild_ones))
    if current is None:
        quantity = max(1, min(total_dice, int(expected(face) * rng.uniform(0.5, 0.9))))
    else:
        quantity = current.quantity if face > current.face else current.quantity + 1
    bid = Bid(quantity, face)
    legal = bid_problem(bid.quantity, bid.face, current, total_dice, wild_ones) is None
    if current is not None and (not legal or quantity > expected(face) + 1):
        return "liar", None
    if not legal:  # cannot happen for an opening bid, but never send a bad one
        bid = Bid(1, low)
    return "bid", bid

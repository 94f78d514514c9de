#!/usr/bin/env python3
"""Liar's Dice -- game server (authoritative), 3 to 8 players.

Run by the platform as ``python3 server.py`` with the launch environment of
docs/SDK.md. Options: ``--turn-timeout SEC`` (default 60), ``--join-timeout
SEC`` (default 60), ``--dice N`` (dice per player, default 5),
``--no-wild-ones``, ``--seed N`` (reproducible dice). The rules are in
liars_dice.py, the game protocol in docs/GAMES.md.

The dice are rolled here and each player is sent only their own. Every bid
and challenge is checked; an illegal one is answered with a ``rejected``
message that says why. A player who disconnects, does not act within the
turn timeout or keeps sending garbage is out (QUIT, or ERROR for a protocol
violation) and the round is replayed without them.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

try:  # vendored next to this file in a published package
    import gamekit
    import gamestore_sdk as sdk
except ImportError:  # running from the source tree (games/liars_dice)
    _root = Path(__file__).resolve().parents[2]
    sys.path[:0] = [str(_root / "sdk" / "python"), str(_root / "games" / "common")]
    import gamekit
    import gamestore_sdk as sdk

from liars_dice import DICE_PER_PLAYER, MAX_DICE_PER_PLAYER, IllegalMove, LiarsDice, Reveal

GAME_NAME = "Liar's Dice"
DEFAULT_TURN_TIMEOUT_SEC = 60.0


def dice_option(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_DICE_PER_PLAYER:
        raise argparse.ArgumentTypeError(f"dice per player must be 1-{MAX_DICE_PER_PLAYER}")
    return value


def player_rows(game: LiarsDice) -> List[Dict[str, Any]]:
    rows = []
    for name in game.players:
        outcome = game.outcomes.get(name)
        status = "in" if outcome is None else ("out" if outcome == "LOSE" else "left")
        rows.append({"name": name, "dice": game.dice_count[name] if outcome is None else 0, "status": status})
    return rows


def state_message(game: LiarsDice) -> Dict[str, Any]:
    return {
        "type": "state",
        "round": game.round,
        "turn": game.turn,
        "bid": game.bid.to_dict() if game.bid else None,
        "bidder": game.bidder,
        "history": [{"player": name, **bid.to_dict()} for name, bid in game.history],
        "players": player_rows(game),
        "total_dice": game.total_dice,
    }


def reveal_message(game: LiarsDice, reveal: Reveal) -> Dict[str, Any]:
    return {
        "type": "reveal",
        "round": game.round - (0 if game.over else 1),  # the round that just ended
        "challenger": reveal.challenger,
        "bidder": reveal.bidder,
        "bid": reveal.bid.to_dict(),
        "count": reveal.count,
        "dice": reveal.dice,
        "loser": reveal.loser,
        "eliminated": reveal.eliminated,
    }


def send_round(match: gamekit.Match, game: LiarsDice) -> None:
    """Each player sees only their own dice."""
    for name in match.connected:
        match.send(name, {"type": "round", "round": game.round, "dice": game.dice[name], "starter": game.turn})
    match.broadcast(state_message(game))


def finish(game: LiarsDice, reasons: Dict[str, str]) -> gamekit.GameEnd:
    if game.winner is None:
        results = [sdk.PlayerResult(name, game.outcomes.get(name, "QUIT")) for name in game.players]
        reason = "Nobody played: " + "; ".join(f"{name} {reasons.get(name, 'never joined')}" for name in game.players)
        return gamekit.GameEnd(results=results, reason=reason)
    results = [sdk.PlayerResult(name, outcome, rank=rank, score=score,
                                extra={"dice_left": game.dice_count[name] if name == game.winner else 0,
                                       "challenges_won": game.challenges_won[name]})
               for name, outcome, rank, score in game.standings()]
    beaten = [name for name in game.players if game.outcomes.get(name) == "LOSE"]
    if beaten:
        reason = f"{game.winner} is the last player with dice."
    else:
        reason = f"{game.winner} is the last player left."
    summary = [result.to_dict() for result in results]
    final = {result.player: {"type": "game_over", "outcome": result.outcome, "rank": result.rank,
                             "winner": game.winner, "reason": reason, "results": summary}
             for result in results}
    return gamekit.GameEnd(results=results, reason=reason, winner=game.winner,
                           stats={"rounds": game.round, "players": len(game.players)}, final_messages=final)


def handle_message(match: gamekit.Match, game: LiarsDice, player: str, message: Dict[str, Any]) -> None:
    kind = message.get("type")
    try:
        if kind == "bid":
            game.place_bid(player, message.get("quantity"), message.get("face"))
            match.broadcast(state_message(game))
        elif kind == "liar":
            reveal = game.call_liar(player)
            match.broadcast(reveal_message(game, reveal))
            if not game.over:
                send_round(match, game)
        else:
            match.reject(player, f"Unknown message type {kind!r}: send "
                                 '{"type":"bid","quantity":Q,"face":F} or {"type":"liar"}.')
    except IllegalMove as exc:
        match.reject(player, str(exc))


def play(match: gamekit.Match, args: argparse.Namespace) -> gamekit.GameEnd:
    rng = random.Random(args.seed) if args.seed is not None else random.SystemRandom()
    game = LiarsDice(match.players, dice_per_player=args.dice, wild_ones=not args.no_wild_ones, rng=rng)
    reasons: Dict[str, str] = {}
    absent: Dict[str, str] = {}
    for name in match.players:
        if name not in match.connected:  # never joined, or left while the others were joining
            event = match.departure(name)
            absent[name] = event.outcome if event else "QUIT"
            reasons[name] = event.reason if event else "never joined"
    match.broadcast({"type": "start", "players": list(game.players), "dice_per_player": game.dice_per_player,
                     "wild_ones": game.wild_ones, "turn_timeout_sec": args.turn_timeout, "absent": list(absent)})
    game.start(absent)
    if game.over:
        return finish(game, reasons)
    send_round(match, game)

    turn_id = game.turn_id
    deadline = time.monotonic() + args.turn_timeout
    # Bounded: each event is consumed once; the turn timeout removes a
    # silent player; bids strictly increase up to the number of dice, so
    # every round ends in a challenge or a removal, and each removes a die
    # or a player.
    while not game.over:
        if game.turn_id != turn_id:
            turn_id = game.turn_id
            deadline = time.monotonic() + args.turn_timeout
        event = match.next_event(deadline)
        if event is None:
            assert game.turn is not None
            match.remove(game.turn, f"You did not act within {args.turn_timeout:g} s.")
            continue  # the removal arrives as a "left" event
        if event.kind == "left":
            reasons[event.player] = event.reason
            if game.remove(event.player, event.outcome):
                match.broadcast({"type": "player_left", "player": event.player, "outcome": event.outcome,
                                 "reason": event.reason, "round_restarted": not game.over})
                if not game.over:
                    send_round(match, game)
            continue
        if event.kind == "invalid":
            match.reject(event.player, event.reason)
            continue
        handle_message(match, game, event.player, event.message or {})
    return finish(game, reasons)


def main(argv: Optional[List[str]] = None) -> int:
    parser = gamekit.server_arguments("Liar's Dice game server", turn_timeout=DEFAULT_TURN_TIMEOUT_SEC)
    parser.add_argument("--dice", type=dice_option, default=DICE_PER_PLAYER, metavar="N",
                        help=f"dice per player (1-{MAX_DICE_PER_PLAYER}, default {DICE_PER_PLAYER})")
    parser.add_argument("--no-wild-ones", action="store_true", help="ones are an ordinary face (faces 1-6 can be bid)")
    return gamekit.run_server(GAME_NAME, parser, play, argv)


if __name__ == "__main__":
    gamekit.main_guard(main)

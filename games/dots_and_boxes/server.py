#!/usr/bin/env python3
"""Dots and Boxes -- game server (authoritative). Two players; the first
player in the match's player list moves first.

Run by the platform as ``python3 server.py`` with the launch environment of
docs/SDK.md. Options: ``--size N`` (boxes a side, default 4), ``--turn-timeout
SEC`` (default 60), ``--join-timeout SEC`` (default 60). The game protocol is
in docs/GAMES.md. Standard library only: the window is the client's business.

Every move is checked here (a line of the board, not drawn yet, the mover's
turn). A player who disconnects, does not move in time or keeps sending
garbage loses the game (outcome QUIT, or ERROR for a protocol violation) and
the other player wins. The END report has a result for both players.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

try:  # vendored next to this file in a published package
    import gamekit
    import gamestore_sdk as sdk
except ImportError:  # running from the source tree (games/dots_and_boxes)
    _root = Path(__file__).resolve().parents[2]
    sys.path[:0] = [str(_root / "sdk" / "python"), str(_root / "games" / "common")]
    import gamekit
    import gamestore_sdk as sdk

from dots_and_boxes import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE, DotsAndBoxes, IllegalMove

GAME_NAME = "Dots and Boxes"
DEFAULT_TURN_TIMEOUT_SEC = 60.0


def state_message(game: DotsAndBoxes) -> Dict[str, object]:
    last = None
    if game.last_move is not None:
        player, (orientation, row, col), completed = game.last_move
        last = {"player": player, "orientation": orientation, "row": row, "col": col, "completed": completed}
    message: Dict[str, object] = {"type": "state"}
    message.update(game.board.to_wire())
    message.update({
        "scores": game.scores(),
        "turn": None if game.over else game.current,
        "move_number": game.moves,
        "last_move": last,
    })
    return message


def results_for(game: DotsAndBoxes, departures: Dict[str, str]) -> List[sdk.PlayerResult]:
    """WIN rank 1 score 1 / LOSE rank 2 score 0 / DRAW rank 1 score 0.5 /
    QUIT (or ERROR) rank 2 score 0. ``departures`` maps the players who left
    to their outcome."""
    results = []
    for name in game.players:
        extra = {"boxes": game.score(name)}
        if name in departures:
            results.append(sdk.PlayerResult(name, departures[name], rank=2, score=0, extra=extra))
        elif game.draw:
            results.append(sdk.PlayerResult(name, "DRAW", rank=1, score=0.5, extra=extra))
        elif game.winner == name:
            results.append(sdk.PlayerResult(name, "WIN", rank=1, score=1, extra=extra))
        else:
            results.append(sdk.PlayerResult(name, "LOSE", rank=2, score=0, extra=extra))
    return results


def end_reason(game: DotsAndBoxes, departure_reasons: Dict[str, str]) -> str:
    if game.forfeited is not None:
        why = departure_reasons.get(game.forfeited, "disconnected")
        if why == "never joined":
            return f"{game.forfeited} never joined; {game.winner} wins."
        return f"{game.forfeited} left the game ({why}); {game.winner} wins."
    first, second = (game.score(name) for name in game.players)
    if game.draw:
        return f"Every box is taken, {first} each: it's a draw."
    winner = game.winner
    assert winner is not None
    return f"{winner} took {game.score(winner)} of {first + second} boxes."


def finish(game: DotsAndBoxes, departures: Dict[str, str], reasons: Dict[str, str]) -> gamekit.GameEnd:
    results = results_for(game, departures)
    reason = end_reason(game, reasons)
    summary = [r.to_dict() for r in results]
    final: Dict[str, Dict[str, object]] = {}
    for result in results:
        message = dict(state_message(game))
        message.update({
            "type": "game_over",
            "outcome": result.outcome,
            "rank": result.rank,
            "winner": game.winner,
            "reason": reason,
            "results": summary,
        })
        final[result.player] = message
    return gamekit.GameEnd(results=results, reason=reason, winner=game.winner,
                           stats={"moves": game.moves, "boxes": game.scores()}, final_messages=final)


def play(match: gamekit.Match, args: argparse.Namespace) -> gamekit.GameEnd:
    game = DotsAndBoxes(match.players, args.size)

    def move(player: str, message: Dict[str, Any]) -> Optional[str]:
        try:
            game.play(player, message.get("orientation"), message.get("row"), message.get("col"))
        except IllegalMove as exc:
            return str(exc)
        return None

    return gamekit.play_turns(match, game, args.turn_timeout,
                              start={"type": "start", "players": list(game.players), "size": game.board.size,
                                     "turn_timeout_sec": args.turn_timeout},
                              state=lambda: state_message(game), move=move,
                              move_example='{"type":"move","orientation":"h","row":R,"col":C}',
                              finish=lambda departures, reasons: finish(game, departures, reasons))


def board_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not MIN_SIZE <= value <= MAX_SIZE:
        raise argparse.ArgumentTypeError(f"the board is {MIN_SIZE} to {MAX_SIZE} boxes a side")
    return value


def main(argv: Optional[List[str]] = None) -> int:
    parser = gamekit.server_arguments("Dots and Boxes game server", turn_timeout=DEFAULT_TURN_TIMEOUT_SEC)
    parser.add_argument("--size", type=board_size, default=DEFAULT_SIZE, metavar="N",
                        help=f"boxes a side ({MIN_SIZE}-{MAX_SIZE}, default {DEFAULT_SIZE})")
    return gamekit.run_server(GAME_NAME, parser, play, argv)


if __name__ == "__main__":
    gamekit.main_guard(main)

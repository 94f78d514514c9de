#!/usr/bin/env python3
"""Connect Four -- game server (authoritative). Two players; the first
player in the match's player list is X and moves first.

Run by the platform as ``python3 server.py`` with the launch environment of
docs/SDK.md. Options: ``--turn-timeout SEC`` (default 120), ``--join-timeout
SEC`` (default 60). The game protocol is in docs/GAMES.md.

Every move is checked here (column 1-7, not full, the mover's turn). A
player who disconnects, does not move in time or keeps sending garbage loses
the game (outcome QUIT, or ERROR for a protocol violation) and the other
player wins. The END report has a result for both players.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

try:  # vendored next to this file in a published package
    import gamekit
    import gamestore_sdk as sdk
except ImportError:  # running from the source tree (games/connect_four)
    _root = Path(__file__).resolve().parents[2]
    sys.path[:0] = [str(_root / "sdk" / "python"), str(_root / "games" / "common")]
    import gamekit
    import gamestore_sdk as sdk

from connect_four import PIECES, ConnectFour, IllegalMove

GAME_NAME = "Connect Four"
DEFAULT_TURN_TIMEOUT_SEC = 120.0


def state_message(game: ConnectFour) -> Dict[str, object]:
    last = None
    if game.last_move is not None:
        player, column, row = game.last_move
        last = {"player": player, "column": column, "row": row}
    return {
        "type": "state",
        "board": game.board.rows(),
        "turn": None if game.over else game.current,
        "move_number": game.moves,
        "last_move": last,
    }


def results_for(game: ConnectFour, departures: Dict[str, str]) -> List[sdk.PlayerResult]:
    """WIN rank 1 score 1 / LOSE rank 2 score 0 / DRAW rank 1 score 0.5 /
    QUIT (or ERROR) rank 2 score 0. ``departures`` maps the players who left
    to their outcome."""
    results = []
    for name in game.players:
        extra = {"piece": game.piece_of(name), "moves": game.moves_by[name]}
        if name in departures:
            results.append(sdk.PlayerResult(name, departures[name], rank=2, score=0, extra=extra))
        elif game.draw:
            results.append(sdk.PlayerResult(name, "DRAW", rank=1, score=0.5, extra=extra))
        elif game.winner == name:
            results.append(sdk.PlayerResult(name, "WIN", rank=1, score=1, extra=extra))
        else:
            results.append(sdk.PlayerResult(name, "LOSE", rank=2, score=0, extra=extra))
    return results


def end_reason(game: ConnectFour, departure_reasons: Dict[str, str]) -> str:
    if game.forfeited is not None:
        why = departure_reasons.get(game.forfeited, "disconnected")
        if why == "never joined":
            return f"{game.forfeited} never joined; {game.winner} wins."
        return f"{game.forfeited} left the game ({why}); {game.winner} wins."
    if game.draw:
        return "The board is full: it's a draw."
    return f"{game.winner} connected four in a row."


def finish(game: ConnectFour, departures: Dict[str, str], reasons: Dict[str, str]) -> gamekit.GameEnd:
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
            "winning_line": [[row, col + 1] for row, col in game.winning_line or []],
        })
        final[result.player] = message
    return gamekit.GameEnd(results=results, reason=reason, winner=game.winner,
                           stats={"moves": game.moves}, final_messages=final)


def play(match: gamekit.Match, args: argparse.Namespace) -> gamekit.GameEnd:
    game = ConnectFour(match.players)

    def move(player: str, message: Dict[str, Any]) -> Optional[str]:
        try:
            game.play(player, message.get("column"))
        except IllegalMove as exc:
            return str(exc)
        return None

    return gamekit.play_turns(match, game, args.turn_timeout,
                              start={"type": "start", "players": list(game.players), "pieces": list(PIECES),
                                     "rows": len(game.board.grid), "columns": len(game.board.grid[0]),
                                     "turn_timeout_sec": args.turn_timeout},
                              state=lambda: state_message(game), move=move,
                              move_example='{"type":"move","column":N}',
                              finish=lambda departures, reasons: finish(game, departures, reasons))


def main(argv: Optional[List[str]] = None) -> int:
    parser = gamekit.server_arguments("Connect Four game server", turn_timeout=DEFAULT_TURN_TIMEOUT_SEC)
    return gamekit.run_server(GAME_NAME, parser, play, argv)


if __name__ == "__main__":
    gamekit.main_guard(main)

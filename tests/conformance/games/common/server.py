#!/usr/bin/env python3
# A game server written from docs/PROTOCOL.md only, the way a game developer
# outside the project writes one. Each package of tests/conformance/games
# ships it with a style.json that picks its habits (the test puts this file
# beside it): one-shot report connections without a final newline, ISO
# timestamps, numbers sent as text, heartbeats only once the players are in,
# draws with an empty winner, results naming the winner only, a log beside
# itself, a wrong port echo.
import datetime
import json
import os
import socket
import threading
import time

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "style.json")) as style_file:
    STYLE = json.load(style_file)
ONE_SHOT = STYLE.get("one_shot", False)                  # a new connection per report, no final newline
ISO_TIMESTAMPS = STYLE.get("iso_timestamps", False)      # "timestamp": datetime.isoformat()
NUMBERS_AS_TEXT = STYLE.get("numbers_as_text", False)    # room_id, port, protocol_version as strings
HEARTBEAT_EVERY = STYLE.get("heartbeat_every", 1.0)      # seconds
BEATS_AFTER_JOIN = STYLE.get("beats_after_join", False)  # heartbeats start once every player is in
DRAW_WITH_EMPTY_WINNER = STYLE.get("draw_with_empty_winner", False)  # END {"winner": ""}, DRAW for all
WINNER_ONLY_RESULTS = STYLE.get("winner_only_results", False)  # END results name the winner only
LOG_BESIDE = STYLE.get("log_beside", False)              # a log file next to server.py
PORT_OFFSET = STYLE.get("port_offset", 0)                # 0: report the port we were given
PLAY_SECONDS = STYLE.get("play_seconds", 1.0)            # how long a match lasts once everyone is in

env = os.environ


def secret(name):
    if env.get(name + "_PATH"):
        with open(env[name + "_PATH"]) as f:
            return f.read().strip()
    return env[name]


ROOM_ID = int(env["ROOM_ID"])
MATCH_ID = env["MATCH_ID"]
REPORT_TOKEN = secret("REPORT_TOKEN")
CLIENT_TOKEN = secret("CLIENT_TOKEN")
PORT = int(env["PORT"])
PLAYERS = json.loads(open(env["PLAYERS_JSON_PATH"]).read()) if env.get("PLAYERS_JSON_PATH") else json.loads(env["PLAYERS_JSON"])
REPORT_ADDR = (env["REPORT_HOST"], int(env["REPORT_PORT"]))

log_file = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "server.log"), "a") if LOG_BESIDE else None


def log(text):
    if log_file:
        log_file.write(text + "\n")
        log_file.flush()
    print(text, flush=True)


lock = threading.Lock()
persistent = None


def report(status, **fields):
    global persistent
    msg = {"room_id": str(ROOM_ID) if NUMBERS_AS_TEXT else ROOM_ID, "report_token": REPORT_TOKEN,
           "match_id": MATCH_ID, "status": status}
    msg["timestamp"] = datetime.datetime.now().isoformat() if ISO_TIMESTAMPS else time.time()
    msg.update(fields)
    line = json.dumps(msg)
    with lock:
        if ONE_SHOT:
            s = socket.create_connection(REPORT_ADDR)
            s.sendall(line.encode())
            s.shutdown(socket.SHUT_WR)
            reply = s.makefile().readline()
            s.close()
        else:
            if persistent is None:
                persistent = socket.create_connection(REPORT_ADDR).makefile("rw")
            persistent.write(line + "\n")
            persistent.flush()
            reply = persistent.readline()
    log(status + " -> " + reply.strip())


joined = {}
everyone_in = threading.Event()
done = threading.Event()


def serve_client(conn):
    f = conn.makefile("rw")
    try:
        hello = json.loads(f.readline())
    except ValueError:
        conn.close()
        return
    name = hello.get("player_name")
    if (hello.get("client_token") != CLIENT_TOKEN or hello.get("match_id") != MATCH_ID
            or name not in PLAYERS or name in joined):
        f.write(json.dumps({"ok": False, "reason": "not you"}) + "\n")
        f.flush()
        conn.close()
        return
    f.write(json.dumps({"ok": True, "assigned_player_index": PLAYERS.index(name)}) + "\n")
    f.flush()
    joined[name] = f
    log("joined: " + name)
    if len(joined) == len(PLAYERS):
        everyone_in.set()


def accept_loop(server):
    while not done.is_set():
        conn, _ = server.accept()
        threading.Thread(target=serve_client, args=(conn,), daemon=True).start()


def heartbeats():
    if BEATS_AFTER_JOIN:
        everyone_in.wait()
    while not done.wait(HEARTBEAT_EVERY):
        report("HEARTBEAT")


server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", PORT))
server.listen()
threading.Thread(target=accept_loop, args=(server,), daemon=True).start()
port = PORT + PORT_OFFSET
report("STARTED", port=str(port) if NUMBERS_AS_TEXT else port,
       protocol_version="1" if NUMBERS_AS_TEXT else 1)
threading.Thread(target=heartbeats, daemon=True).start()

everyone_in.wait()
time.sleep(PLAY_SECONDS)
winner = PLAYERS[0]
if DRAW_WITH_EMPTY_WINNER:
    results = [{"player": p, "outcome": "DRAW", "rank": 1, "score": 0} for p in PLAYERS]
    extra = {"winner": "", "reason": "draw"}
elif WINNER_ONLY_RESULTS:
    results = [{"player": winner, "outcome": "WIN", "rank": 1, "score": 1}]
    extra = {"winner": winner, "reason": "first in"}
else:
    results = [{"player": p, "outcome": "WIN" if p == winner else "LOSE", "rank": 1 if p == winner else 2,
                "score": 1 if p == winner else 0} for p in PLAYERS]
    extra = {"winner": winner, "reason": "first in"}
done.set()
for f in joined.values():
    try:
        f.write(json.dumps({"type": "over"}) + "\n")
        f.flush()
    except OSError:
        pass
report("END", results=results, **extra)

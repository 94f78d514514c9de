#!/usr/bin/env python3
# The client: connects, says hello (handshake v1), waits for the game to be
# over. It needs no player input.
import json
import os
import socket
import sys

env = os.environ
token = open(env["CLIENT_TOKEN_PATH"]).read().strip() if env.get("CLIENT_TOKEN_PATH") else env["CLIENT_TOKEN"]
s = socket.create_connection((env["HOST"], int(env["PORT"])))
f = s.makefile("rw")
f.write(json.dumps({"room_id": int(env["ROOM_ID"]), "match_id": env["MATCH_ID"], "player_name": env["PLAYER_NAME"],
                    "client_token": token, "client_protocol_version": 1}) + "\n")
f.flush()
reply = json.loads(f.readline() or "{}")
if not reply.get("ok"):
    print("refused:", reply.get("reason"))
    sys.exit(1)
for line in f:
    if json.loads(line).get("type") == "over":
        print("game over")
        sys.exit(0)
print("the server went away")
sys.exit(0)

#!/usr/bin/env python3
# A windowed client, as people write one with pygame: the window first, then
# the connection (handshake v1); it shows what the server says and closes
# when the game is over. No display, no window: pygame raises and it exits 1.
import json
import os
import socket
import sys

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame  # noqa: E402

pygame.display.init()
pygame.font.init()
screen = pygame.display.set_mode((320, 120))
pygame.display.set_caption("Conformance gui window - " + os.environ["PLAYER_NAME"])
font = pygame.font.Font(None, 28)


def show(text):
    screen.fill((20, 20, 40))
    screen.blit(font.render(text, True, (240, 240, 240)), (16, 48))
    pygame.display.flip()
    pygame.event.pump()


env = os.environ
token = open(env["CLIENT_TOKEN_PATH"]).read().strip() if env.get("CLIENT_TOKEN_PATH") else env["CLIENT_TOKEN"]
show("connecting...")
s = socket.create_connection((env["HOST"], int(env["PORT"])))
f = s.makefile("rw")
f.write(json.dumps({"room_id": int(env["ROOM_ID"]), "match_id": env["MATCH_ID"], "player_name": env["PLAYER_NAME"],
                    "client_token": token, "client_protocol_version": 1}) + "\n")
f.flush()
reply = json.loads(f.readline() or "{}")
if not reply.get("ok"):
    print("refused:", reply.get("reason"))
    sys.exit(1)
show("playing...")
for line in f:
    if json.loads(line).get("type") == "over":
        show("game over")
        print("game over")
        sys.exit(0)
print("the server went away")
sys.exit(0)

#!/usr/bin/env python3
"""Drives headless Chromium through the DevTools protocol on a pipe
(--remote-debugging-pipe: commands on fd 3, replies on fd 4, each JSON
message ended by NUL) for the /admin browser test in test_operations.cpp.

Opens URL, waits until the page shows MATCH_ID running in an IN_GAME room,
saves a screenshot, creates SHOWN_FILE (the test then ends the match), and
waits until the same document (no reload) lists MATCH_ID as ended. Writes
what it saw to RESULT_FILE as JSON; exit 0 when it saw both states."""

import argparse
import base64
import json
import os
import select
import sys
import time

PROBE = """JSON.stringify({
  load: performance.timeOrigin,
  updates: Number(document.body.dataset.updates || 0),
  running: [...document.querySelectorAll('#rooms tr')].filter(r => r.dataset.state === 'IN_GAME')
      .map(r => (r.querySelector('.match') || {dataset: {}}).dataset.matchId),
  ended: [...document.querySelectorAll('#ended tr')].map(r => [r.dataset.matchId, r.dataset.status]),
  players: [...document.querySelectorAll('#players tr')].map(r => r.dataset.player),
})"""


class DevTools:
    def __init__(self, chromium, out_dir):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--remote-debugging-pipe", "--window-size=1400,1000",
                "--user-data-dir=" + os.path.join(out_dir, "chromium-profile"), "about:blank"]
        log = os.open(os.path.join(out_dir, "chromium.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        actions = [(os.POSIX_SPAWN_DUP2, to_browser_r, 3), (os.POSIX_SPAWN_DUP2, from_browser_w, 4),
                   (os.POSIX_SPAWN_DUP2, log, 1), (os.POSIX_SPAWN_DUP2, log, 2)]
        self.pid = os.posix_spawn(chromium, argv, os.environ, file_actions=actions)
        for fd in (to_browser_r, from_browser_w, log):
            os.close(fd)
        self.next_id = 0
        self.buffer = b""

    def call(self, method, params=None, session=None, timeout=30.0):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{method}: no reply within {timeout} s")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if ready:
                chunk = os.read(self.from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buffer += chunk

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except Exception:
            pass
        for _ in range(100):
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return
            time.sleep(0.1)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)


def wait_for(browser, session, accept, timeout):
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        value = browser.call("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session)
        # Right after the tab opens the document may have no body yet: the
        # probe throws, and the answer carries exceptionDetails, not a value.
        probed = value.get("result", {}).get("value")
        if probed is not None:
            seen = json.loads(probed)
            if accept(seen):
                return seen, True
        time.sleep(0.2)
    return seen, False


def main():
    parser = argparse.ArgumentParser()
    for name in ("--chromium", "--url", "--match-id", "--out-dir", "--shown-file", "--result-file"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    browser = DevTools(args.chromium, args.out_dir)
    result = {"shown": False, "ended": False}
    try:
        target = browser.call("Target.createTarget", {"url": args.url})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        running, shown = wait_for(browser, session, lambda s: args.match_id in s["running"], 30)
        result.update(shown=shown, running_state=running)
        if shown:
            shot = browser.call("Page.captureScreenshot", {"format": "png"}, session)
            with open(os.path.join(args.out_dir, "admin.png"), "wb") as out:
                out.write(base64.b64decode(shot["data"]))
            open(args.shown_file, "w").close()
            ended, seen_end = wait_for(
                browser, session, lambda s: any(m == args.match_id for m, _ in s["ended"]), 60)
            result.update(ended=seen_end, ended_state=ended)
    finally:
        with open(args.result_file, "w") as out:
            json.dump(result, out)
        browser.close()
    return 0 if result["shown"] and result["ended"] else 1


if __name__ == "__main__":
    sys.exit(main())

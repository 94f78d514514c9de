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
        # Wait for the exit on a pidfd (readable once the process ended), at
        # most 10 s, then kill it.
        pidfd = os.pidfd_open(self.pid)
        try:
            exited, _, _ = select.select([pidfd], [], [], 10)
        finally:
            os.close(pidfd)
        if not exited:
            os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)


# Resolves once __ACCEPT__(state) holds for the page's state (__PROBE__), checked on
# every change of the document (a MutationObserver: the page bumps
# body.dataset.updates on each refresh), or after __MS__ milliseconds with
# what it last saw. Before the document has a body the probe throws; that
# counts as "nothing seen yet".
WAITER = '''new Promise(resolve => {
  let last = null;
  const check = () => {
    try { last = JSON.parse(__PROBE__); } catch (e) { return false; }
    return (__ACCEPT__)(last);
  };
  const finish = ok => { observer.disconnect(); clearTimeout(timer); resolve(JSON.stringify({ok, seen: last})); };
  const observer = new MutationObserver(() => { if (check()) finish(true); });
  observer.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  const timer = setTimeout(() => finish(false), __MS__);
  if (check()) finish(true);
})'''


def wait_for(browser, session, accept_js, timeout):
    """Waits until the page's state satisfies accept_js (a JavaScript
    function of the probed state), at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    seen = None
    # A navigation that commits while a wait is pending destroys its page
    # context and the call fails; the next wait runs in the new document.
    # Each wait is itself bounded, and so is the loop.
    for _ in range(20):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        expression = (WAITER.replace("__PROBE__", PROBE).replace("__ACCEPT__", accept_js)
                      .replace("__MS__", str(int(left * 1000))))
        try:
            value = browser.call("Runtime.evaluate",
                                 {"expression": expression, "awaitPromise": True, "returnByValue": True},
                                 session, timeout=left + 10)
        except RuntimeError:
            continue
        answer = value.get("result", {}).get("value")
        if answer is None:
            continue  # the evaluation threw (its context went away)
        answer = json.loads(answer)
        seen = answer["seen"] if answer["seen"] is not None else seen
        if answer["ok"]:
            return seen, True
    return seen, False


def main():
    parser = argparse.ArgumentParser()
    for name in ("--chromium", "--url", "--match-id", "--out-dir", "--shown-file", "--result-file"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    browser = DevTools(args.chromium, args.out_dir)
    result = {"shown": False, "ended": False}
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        # Page.navigate answers once the new document is committed: every
        # evaluation after it runs in the dashboard's page.
        navigated = browser.call("Page.navigate", {"url": args.url}, session)
        if navigated.get("errorText"):
            raise RuntimeError(f"navigating to the dashboard failed: {navigated['errorText']}")
        running, shown = wait_for(browser, session, f"s => s.running.includes({json.dumps(args.match_id)})", 30)
        result.update(shown=shown, running_state=running)
        if shown:
            shot = browser.call("Page.captureScreenshot", {"format": "png"}, session)
            with open(os.path.join(args.out_dir, "admin.png"), "wb") as out:
                out.write(base64.b64decode(shot["data"]))
            open(args.shown_file, "w").close()
            ended, seen_end = wait_for(
                browser, session, f"s => s.ended.some(e => e[0] === {json.dumps(args.match_id)})", 60)
            result.update(ended=seen_end, ended_state=ended)
    finally:
        with open(args.result_file, "w") as out:
            json.dump(result, out)
        browser.close()
    return 0 if result["shown"] and result["ended"] else 1


if __name__ == "__main__":
    sys.exit(main())

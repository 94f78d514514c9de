"""start_thread / shield_thread_from_signals: signals go to the main thread."""

from __future__ import annotations

import queue
import signal
import threading
import unittest
from typing import Set

from support import sdk

HAS_SIGMASK = hasattr(signal, "pthread_sigmask")


def current_mask() -> Set[int]:
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, []))


@unittest.skipUnless(HAS_SIGMASK, "needs pthread_sigmask")
class SignalShieldTest(unittest.TestCase):
    def test_start_thread_blocks_termination_signals_from_the_first_instruction(self) -> None:
        before = current_mask()
        seen: "queue.Queue[Set[int]]" = queue.Queue()
        thread = sdk.start_thread(lambda: seen.put(current_mask()), name="probe")
        mask = seen.get(timeout=5.0)
        thread.join(5.0)
        self.assertTrue(thread.daemon)
        self.assertEqual(thread.name, "probe")
        self.assertIn(signal.SIGTERM, mask)
        self.assertIn(signal.SIGINT, mask)
        self.assertEqual(current_mask(), before)  # the caller's mask is restored

    def test_shield_blocks_in_a_plain_thread_and_never_in_the_main_thread(self) -> None:
        seen: "queue.Queue[Set[int]]" = queue.Queue()

        def probe() -> None:
            sdk.shield_thread_from_signals()
            seen.put(current_mask())

        thread = threading.Thread(target=probe, daemon=True)
        thread.start()
        self.assertIn(signal.SIGTERM, seen.get(timeout=5.0))
        thread.join(5.0)
        before = current_mask()
        sdk.shield_thread_from_signals()  # main thread: must stay a no-op
        self.assertEqual(current_mask(), before)


if __name__ == "__main__":
    unittest.main()

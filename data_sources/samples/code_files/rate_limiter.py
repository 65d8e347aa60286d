"""Sliding-window rate limiter keyed by client id.

Each client may perform at most `limit` actions within any window of
`window` seconds. Timestamps are kept in a deque per client, so the memory
used is bounded by `limit` entries per active client.
"""

import threading
import time
from collections import defaultdict, deque


class SlidingWindowLimiter:
    def __init__(self, limit, window, clock=time.monotonic):
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events = defaultdict(deque)
        self._lock = threading.Lock()

    def _evict(self, events, now):
        while events and events[0] <= now - self.window:
            events.popleft()

    def allow(self, client_id):
        """Record an action and return True if it is within the limit."""
        now = self._clock()
        with self._lock:
            events = self._events[client_id]
            self._evict(events, now)
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True

    def retry_after(self, client_id):
        """Seconds until the client may act again (0.0 if allowed now)."""
        now = self._clock()
        with self._lock:
            events = self._events.get(client_id)
            if not events:
                return 0.0
            self._evict(events, now)
            if len(events) < self.limit:
                return 0.0
            return max(0.0, events[0] + self.window - now)

    def cleanup(self):
        """Drop clients without recent activity."""
        now = self._clock()
        with self._lock:
            for client in list(self._events):
                self._evict(self._events[client], now)
                if not self._events[client]:
                    del self._events[client]


if __name__ == "__main__":
    limiter = SlidingWindowLimiter(limit=3, window=1.0)
    print([limiter.allow("alice") for _ in range(5)])  # [True, True, True, False, False]
    print(round(limiter.retry_after("alice"), 1))

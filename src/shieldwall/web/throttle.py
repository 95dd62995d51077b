"""Failed logins to the web console, counted per user name and per client address.

Passwords are guessed online at the login form; every mature console slows
that down. After `max_failures` failed logins for one user name within
`window`, that name's logins are refused (429) until the oldest failure
leaves the window, whatever password is sent, so that guessing stops paying;
a success clears the name's count. One client address gets more failures
(`max_per_address`), across names, before it is refused: this stops spraying
one password over many names without letting one address lock out a user
forever (the name's window still ends).

Counts live in the process: with several API processes each counts its own
(documented in docs/web.md). Memory is bounded: at most `max_tracked` names
and addresses are remembered, the oldest forgotten first.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from datetime import datetime, timedelta


class LoginThrottle:
    def __init__(
        self,
        *,
        max_failures: int,
        window: timedelta,
        max_per_address: int,
        max_tracked: int = 100_000,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_per_address = max_per_address
        self.max_tracked = max_tracked
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _name_key(username: str) -> str:
        return "user:" + username.strip().lower()

    @staticmethod
    def _address_key(address: str) -> str:
        return "addr:" + address

    def retry_after(self, username: str, address: str, now: datetime) -> int | None:
        """Seconds until a login for `username` from `address` is taken again; None: now."""
        with self._lock:
            found = (
                self._wait(self._name_key(username), self.max_failures, now),
                self._wait(self._address_key(address), self.max_per_address, now),
            )
        waits = [wait for wait in found if wait is not None]
        if not waits:
            return None
        return max(1, math.ceil(max(waits).total_seconds()))

    def failed(self, username: str, address: str, now: datetime) -> None:
        with self._lock:
            for key in (self._name_key(username), self._address_key(address)):
                times = self._failures.pop(key, None) or deque()
                times.append(now)
                self._failures[key] = times  # re-inserted: the newest key is forgotten last
            while len(self._failures) > self.max_tracked:
                del self._failures[next(iter(self._failures))]

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(self._name_key(username), None)

    def _wait(self, key: str, limit: int, now: datetime) -> timedelta | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        if len(times) < limit:
            return None
        # Refused until enough failures have left the window to go below the limit.
        return times[len(times) - limit] + self.window - now

"""Login throttling: failed logins per username and per client address in a sliding window.

After ``max_failures`` failed logins within ``window_s`` seconds, a username (or an address)
is locked until the oldest of those failures leaves the window: every attempt, the right
password included, is answered 429 with ``Retry-After``. A successful login clears the
username's failures (not the address's). State is per process, bounded in size (the
least recently touched keys are forgotten first); several service processes each keep
their own, so the effective limit is per process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

from services.errors import TooManyAttempts

__all__ = ["LoginThrottle", "TooManyAttempts"]


class _Window:
    def __init__(self, limit: int, window_s: float, max_keys: int) -> None:
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self.failures: OrderedDict[str, deque] = OrderedDict()

    def retry_after(self, key: str, now: float) -> float:
        times = self.failures.get(key)
        if not times:
            return 0.0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) < self.limit:
            return 0.0
        return times[0] + self.window_s - now

    def fail(self, key: str, now: float) -> None:
        times = self.failures.pop(key, None) or deque(maxlen=self.limit)
        times.append(now)
        self.failures[key] = times
        while len(self.failures) > self.max_keys:
            self.failures.popitem(last=False)

    def clear(self, key: str) -> None:
        self.failures.pop(key, None)


class LoginThrottle:
    """Per-username and per-address limits on failed logins (thread-safe).

    Parameters
    ----------
    max_failures_user, max_failures_address : int
        Failed logins allowed per window before the key is locked.
    window_s : float
        Sliding window (s).
    clock : callable
        Monotonic clock (s); tests pass their own.
    """

    def __init__(self, *, max_failures_user: int = 5, max_failures_address: int = 20,
                 window_s: float = 900.0, max_keys: int = 100_000, clock=time.monotonic) -> None:
        self.users = _Window(max_failures_user, window_s, max_keys)
        self.addresses = _Window(max_failures_address, window_s, max_keys)
        self.clock = clock
        self._lock = threading.Lock()

    def check(self, username: str, address: str | None) -> None:
        """Raise :class:`TooManyAttempts` when the username or the address is locked."""
        now = self.clock()
        with self._lock:
            wait = max(self.users.retry_after(username.lower(), now),
                       self.addresses.retry_after(address or "", now) if address else 0.0)
        if wait > 0:
            raise TooManyAttempts(f"too many failed logins; try again in {int(wait) + 1} s", int(wait) + 1)

    def failed(self, username: str, address: str | None) -> None:
        """Record a failed login."""
        now = self.clock()
        with self._lock:
            self.users.fail(username.lower(), now)
            if address:
                self.addresses.fail(address, now)

    def succeeded(self, username: str) -> None:
        """Clear the username's failures after a successful login."""
        with self._lock:
            self.users.clear(username.lower())

"""Answers kept a short while: the portal's access reviews and priced periods (`ledger_view`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class Remembered:
    """Answers kept for `seconds` each; at most `most` (the expired are dropped first). A key is computed once
    however many requests ask for it at the same moment: fifty readers of a period not yet priced wait for one
    pricing instead of making fifty."""

    def __init__(self, seconds: float, most: int = 10_000) -> None:
        self._seconds, self._most = seconds, most
        self._found: dict[Any, tuple[float, Any]] = {}
        self._computing: dict[Any, threading.Lock] = {}
        self._lock = threading.Lock()

    def _fresh(self, key: Any) -> tuple[bool, Any]:
        with self._lock:
            found = self._found.get(key)
            if found is not None and found[0] > time.monotonic():
                return True, found[1]
            return False, None

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        known, value = self._fresh(key)
        if known:
            return value
        with self._lock:
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:
            known, value = self._fresh(key)
            if known:
                return value
            value = compute()
            with self._lock:
                now = time.monotonic()
                if len(self._found) >= self._most:
                    self._found = {k: v for k, v in self._found.items() if v[0] > now}
                    self._computing = {k: self._computing[k] for k in self._found if k in self._computing}
                self._found[key] = (now + self._seconds, value)
        return value

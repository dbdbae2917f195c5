"""Progress reporting and cancellation shared by every long-running function.

Long functions take `progress(stage, done, total)` and a `CancelToken`; they report
between chunks of work and call `cancel.check()` there, which raises `Cancelled`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .errors import Cancelled

ProgressFn = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """Progress callback that ignores every report."""


class CancelToken:
    """A thread-safe flag a caller sets to ask a running job to stop."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise `Cancelled` if cancellation was requested."""
        if self._event.is_set():
            raise Cancelled("the run was cancelled")

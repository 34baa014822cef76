"""The phases of one model's warm, as the progress display hears them and
the report times and counts them (:class:`Phases`), and what a progress
display implements (:class:`WarmProgress`)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Protocol

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from .reports import ModelReport


class WarmProgress(Protocol):
    """What a progress display hears while models warm."""

    def model_started(self, model: str, rows: Optional[int]) -> None: ...

    def rows_loaded(self, model: str, rows: int) -> None: ...

    def phase_started(self, model: str, phase: str) -> None:
        """A phase of the model's warm began (count, populate, merge check,
        keys, memory, session close, lookups); optional for a display."""

    def model_finished(self, report: ModelReport) -> None: ...


class Phases:
    """The phases of one model's warm, timed back to back: each starts when
    the one before ends, so that they add up to the model's total. The
    progress display hears each as it starts; the SQL statements issued on
    the connection are counted against the phase running."""

    def __init__(self, connection: Connection, report: ModelReport, progress: Optional[WarmProgress]) -> None:
        self.connection = connection
        self.report = report
        self.progress = progress
        self.current: Optional[str] = None
        self.muted = False
        self.started: Optional[float] = None
        self.mark = 0.0

    def _statement(self, *args: Any) -> None:
        if self.current is not None and not self.muted:
            self.report.statements[self.current] = self.report.statements.get(self.current, 0) + 1

    def __enter__(self) -> "Phases":
        event.listen(self.connection, "before_cursor_execute", self._statement)
        return self

    def enter(self, name: str) -> None:
        """End the phase running, start ``name``."""
        now = time.perf_counter()
        if self.started is None:
            self.started = now
        self._close(now)
        self.current = name
        self.report.statements.setdefault(name, 0)
        announce = getattr(self.progress, "phase_started", None)
        if announce is not None:
            announce(self.report.model, name)

    @contextmanager
    def uncounted(self) -> Iterator[None]:
        """fullcache's own bookkeeping (savepoints), left out of the counts."""
        self.muted = True
        try:
            yield
        finally:
            self.muted = False

    def _close(self, now: float) -> None:
        if self.current is not None:
            phases = self.report.phases
            phases[self.current] = phases.get(self.current, 0.0) + (now - self.mark)
        self.mark = now

    def __exit__(self, *exc: Any) -> None:
        now = time.perf_counter()
        self._close(now)
        self.current = None
        if self.started is not None:
            self.report.total_seconds = now - self.started
        try:
            event.remove(self.connection, "before_cursor_execute", self._statement)
        except sa_exc.InvalidRequestError:
            pass  # the connection is gone

"""The progress display of a warm on stderr, one line per model.
"""

from __future__ import annotations

from typing import Any, Optional
from rich.console import Console

from ..reports import ModelReport
from .text import terminal_text


class RichProgress:
    """A progress display on stderr while models warm."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict = {}

    def __enter__(self) -> "RichProgress":
        self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.stop()

    def model_started(self, model: str, rows: Optional[int]) -> None:
        task = self._tasks.get(model)
        if task is None:
            self._tasks[model] = self._progress.add_task(terminal_text(model), total=rows)
        else:
            self._progress.update(task, total=rows)

    def rows_loaded(self, model: str, rows: int) -> None:
        self._progress.update(self._tasks[model], completed=rows)

    def phase_started(self, model: str, phase: str) -> None:
        # The bar restarts with each phase (the merge check counts its rows): never frozen at N/N.
        task = self._tasks.get(model)
        if task is None:
            return
        description = model if phase in ("count", "populate") else f"{model} · {phase}"
        self._progress.update(task, description=terminal_text(description), completed=0)

    def model_finished(self, report: ModelReport) -> None:
        task = self._tasks.get(report.model)
        if task is not None:
            total = self._progress.tasks[task].total
            self._progress.update(task, completed=total if total is not None else 1, total=total or 1)

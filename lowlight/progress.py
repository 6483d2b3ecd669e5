"""Progress over a list of images, for `lowlight-enhance` and `lowlight-evaluate`."""

from __future__ import annotations

import logging
import sys
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class ImageProgress:
    """A progress bar in a terminal; where output goes to a file or a pipe (a batch job, CI),
    a log line every `every` images instead, with the elapsed time."""

    def __init__(
        self, what: str, total: int, enabled: bool, log: logging.Logger, every: int = 10
    ) -> None:
        self.what, self.total, self.enabled, self.every, self.done = what, total, enabled, every, 0
        self.log = log
        self.tty = sys.stderr.isatty()
        self.started = self._tile_logged = time.perf_counter()
        columns = [
            TextColumn(f"[bold]{what}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.description}"),
        ]
        self.bar = Progress(*columns, disable=not (enabled and self.tty))
        self.task = self.bar.add_task("", total=total)

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def show(self, name: str) -> None:
        self.bar.update(self.task, description=name)

    def tiles(self, name: str, done: int, total: int, every_s: float = 10.0) -> None:
        """Progress inside one large image: the bar says `NAME: tile 12/48`; where output
        goes to a file, a log line at most every `every_s` seconds and at the last tile."""
        self.show(f"{name}: tile {done}/{total}")
        if not self.enabled or self.tty:
            return
        now = time.perf_counter()
        if done == total or now - self._tile_logged >= every_s:
            self._tile_logged = now
            self.log.info(
                "%s: %s tile %d/%d, %.0f s", self.what, name, done, total, now - self.started
            )

    def advance(self, name: str) -> None:
        self.bar.advance(self.task)
        self.done += 1
        if (
            self.enabled
            and not self.tty
            and (self.done % self.every == 0 or self.done == self.total)
        ):
            elapsed = time.perf_counter() - self.started
            self.log.info(
                "%s: %d/%d images (%s), %.0f s", self.what, self.done, self.total, name, elapsed
            )

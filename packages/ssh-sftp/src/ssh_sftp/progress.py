"""A plain-text progress bar for transfers, I/O-free: the caller passes the time and
writes the returned text (``sftp-py`` draws it on a terminal's stderr).

Short transfers draw nothing: the bar appears only once a transfer has run for
``delay`` seconds, then redraws at most every ``interval`` seconds, and :meth:`finish`
ends the line only if something was drawn.
"""

from __future__ import annotations

__all__ = ["ProgressBar", "format_size", "format_eta"]

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_size(count: float) -> str:
    """Bytes for people: ``512 B``, ``1.5 MiB``."""
    for unit in _UNITS:
        if abs(count) < 1024 or unit == _UNITS[-1]:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def format_eta(seconds: float) -> str:
    """``MM:SS``, or ``H:MM:SS`` past an hour; ``--:--`` when unknown."""
    if seconds < 0 or seconds != seconds or seconds > 99 * 3600:
        return "--:--"
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class ProgressBar:
    """One transfer's bar. ``update(done, total, now)`` returns text to write (starting
    with a carriage return, so it redraws in place) or None when nothing is due."""

    def __init__(
        self,
        name: str,
        start: float,
        *,
        width: int = 80,
        delay: float = 0.5,
        interval: float = 0.1,
    ) -> None:
        self.name = name
        self.start = start
        self.width = max(width, 40)
        self.delay = delay
        self.interval = interval
        self.drawn = False
        self._last_draw = float("-inf")
        self._last: tuple[int, int] = (0, 0)

    def update(self, done: int, total: int, now: float) -> str | None:
        self._last = (done, total)
        if now - self.start < self.delay or now - self._last_draw < self.interval:
            return None
        self._last_draw = now
        self.drawn = True
        return "\r" + self.render(done, total, now)

    def finish(self, now: float) -> str:
        """The final state and a newline if the bar was ever drawn, else nothing."""
        if not self.drawn:
            return ""
        done, total = self._last
        return "\r" + self.render(done, total, now) + "\n"

    def render(self, done: int, total: int, now: float) -> str:
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        percent = 100 if total <= 0 else min(100, done * 100 // total)
        if done >= total:
            eta = format_eta(elapsed)  # done: how long it took
        else:
            eta = format_eta((total - done) / rate) if rate > 0 else format_eta(-1)
        tail = f" {percent:3d}% {format_size(done):>10} {format_size(rate):>10}/s {eta:>8}"
        room = self.width - 1 - len(tail)
        name = self.name
        longest = room - 3 - 10  # " [", "]" and at least a 10-cell bar
        if len(name) > longest:
            name = "..." + name[-(longest - 3) :] if longest > 3 else ""
        bar_cells = room - len(name) - 3
        filled = bar_cells if total <= 0 else bar_cells * min(done, total) // total
        bar = "#" * filled + "." * (bar_cells - filled)
        return f"{name} [{bar}]{tail}"

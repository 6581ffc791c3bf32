"""Progress lines for long evaluations: count, rate and ETA, quiet for short ones.

An evaluator that loops over batches or chunks wraps the loop,

  for batch in progress(batches, total=10_000, label="likelihood k=1000", size=len):
    ...

and, once the loop has run for `quiet_s` (5 s), a line such as

  eval likelihood k=1000: 3,000/10,000 examples, 410 ex/s, ETA 17 s

goes to stderr at most every `every_s` seconds, and a closing line with the time taken
when the loop ends. Evaluations shorter than `quiet_s` print nothing. The rate leaves out
the first item, whose time is mostly compilation, as soon as a second one is done. Only
process 0 of a multi-host job prints.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Iterable, Iterator, TextIO, TypeVar

T = TypeVar("T")

QUIET_S = 5.0
EVERY_S = 5.0
_RATE_UNITS = {"examples": "ex"}


class Meter:
  """Counts units of work done towards `total` and prints a line when one is due.

  Args:
    label: what is evaluated (printed after 'eval ').
    total: the units the whole loop will do.
    unit: what a unit is ('examples', 'samples', 'images', 'metrics').
    clock: seconds, monotonic (a test passes a fake one).
    out: where lines go (default stderr; only process 0 prints by default).
    quiet_s: no line before the loop has run this long.
    every_s: at most one line per this many seconds.
  """

  def __init__(self, label: str, total: int, unit: str = "examples",
               clock: Callable[[], float] = time.monotonic, out: TextIO | None = None,
               quiet_s: float = QUIET_S, every_s: float = EVERY_S):
    self.label, self.total, self.unit = label, int(total), unit
    self.clock, self.quiet_s, self.every_s = clock, quiet_s, every_s
    self._out = out
    self.done = 0
    self.start = clock()
    self._first: tuple[float, int] | None = None  # (time, done) when the first item ended
    self._last_line: float | None = None

  def advance(self, n: int = 1) -> None:
    """Records `n` more units done; prints a line if the loop is long and one is due."""
    self.done += int(n)
    now = self.clock()
    if self._first is None:
      self._first = (now, self.done)
    if now - self.start < self.quiet_s or self.done >= self.total:
      return
    if self._last_line is not None and now - self._last_line < self.every_s:
      return
    self._last_line = now
    self._print(self.line(now))

  def finish(self) -> None:
    """A closing line (count, rate, time taken), only if progress lines were printed."""
    if self._last_line is not None:
      now = self.clock()
      self._print(f"eval {self.label}: {self.done:,}/{self.total:,} {self.unit}, "
                  f"{self._rate_text(self.rate(now))}, done in {duration(now - self.start)}")

  def rate(self, now: float) -> float:
    """Units per second, from the end of the first item on once a second one is done."""
    if self._first is not None and self.done > self._first[1] and now > self._first[0]:
      return (self.done - self._first[1]) / (now - self._first[0])
    return self.done / max(now - self.start, 1e-9)

  def line(self, now: float) -> str:
    rate = self.rate(now)
    eta = (self.total - self.done) / rate if rate > 0 else float("inf")
    return (f"eval {self.label}: {self.done:,}/{self.total:,} {self.unit}, "
            f"{self._rate_text(rate)}, ETA {duration(eta)}")

  def _rate_text(self, rate: float) -> str:
    shown = f"{rate:,.0f}" if rate >= 10 else f"{rate:.2g}"
    return f"{shown} {_RATE_UNITS.get(self.unit, self.unit)}/s"

  def _print(self, text: str) -> None:
    out = self._out
    if out is None:
      import jax  # pylint: disable=g-import-not-at-top
      if jax.process_index() != 0:
        return
      out = sys.stderr
    print(text, file=out, flush=True)


def progress(items: Iterable[T], total: int, label: str, size: int | Callable[[T], int] = 1,
             unit: str = "examples", **meter_kwargs) -> Iterator[T]:
  """Yields `items`, counting `size` units (a number, or a function of the item) for each
  one as the loop body finishes it; see `Meter` for the lines and `meter_kwargs`."""
  meter = Meter(label, total, unit, **meter_kwargs)
  for item in items:
    yield item
    meter.advance(size(item) if callable(size) else size)
  meter.finish()


def chunks(num: int, chunk: int, label: str, unit: str = "samples",
           **meter_kwargs) -> Iterator[int]:
  """The indices i of the ceil(num / chunk) chunks of a loop that makes `num` things
  `chunk` at a time (the last one counted as the num - i * chunk it keeps), with progress
  lines."""
  return progress(range(-(-num // chunk)), num, label,
                  size=lambda i: min(chunk, num - i * chunk), unit=unit, **meter_kwargs)


def duration(seconds: float) -> str:
  """17 -> '17 s', 245 -> '4 min 05 s', 3720 -> '1 h 02 min'; inf -> '?'."""
  if seconds != seconds or seconds == float("inf"):
    return "?"
  seconds = int(round(seconds))
  if seconds < 60:
    return f"{seconds} s"
  minutes, s = divmod(seconds, 60)
  if minutes < 60:
    return f"{minutes} min {s:02d} s"
  hours, minutes = divmod(minutes, 60)
  return f"{hours} h {minutes:02d} min"

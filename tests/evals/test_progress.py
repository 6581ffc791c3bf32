"""Progress lines of long evaluations: count, rate and ETA on a fake clock; quiet when short."""
from __future__ import annotations

import io

from genjax.evals.progress import chunks, duration, progress


class FakeClock:
  """Seconds that move only when the test says so."""

  def __init__(self):
    self.now = 100.0

  def __call__(self) -> float:
    return self.now


def _run(seconds_per_item: list[float], total: int, size: int, **kw) -> list[str]:
  clock, out = FakeClock(), io.StringIO()
  for seconds in progress(seconds_per_item, total, "nll", size, clock=clock, out=out, **kw):
    clock.now += seconds  # the loop body's work
  return out.getvalue().splitlines()


def test_a_long_loop_prints_count_rate_and_eta_leaving_out_the_first_items_compile():
  # 10 batches of 1,000 examples: the first takes 8 s (compilation), each other 2 s, i.e.
  # 500 ex/s. The first line comes after the first batch (past the 5 s quiet period), at
  # 1,000 / 8 s (ETA 72 s); then at most one per 5 s: at 14 s (4,000 done, 6,000 left at 500 ex/s ->
  # 12 s) and 20 s; the loop ends at 26 s with a closing line.
  lines = _run([8.0] + [2.0] * 9, total=10_000, size=1000)
  assert lines == ["eval nll: 1,000/10,000 examples, 125 ex/s, ETA 1 min 12 s",
                   "eval nll: 4,000/10,000 examples, 500 ex/s, ETA 12 s",
                   "eval nll: 7,000/10,000 examples, 500 ex/s, ETA 6 s",
                   "eval nll: 10,000/10,000 examples, 500 ex/s, done in 26 s"]


def test_a_loop_shorter_than_the_quiet_period_prints_nothing():
  assert _run([0.4] * 10, total=10, size=1) == []


def test_samples_are_counted_in_their_own_unit():
  clock, out = FakeClock(), io.StringIO()
  for _ in progress(range(3), 30, "modes sampling", size=10, unit="samples", clock=clock,
                    out=out, quiet_s=0.0, every_s=0.0):
    clock.now += 4.0
  assert out.getvalue().splitlines()[:2] == [
      "eval modes sampling: 10/30 samples, 2.5 samples/s, ETA 8 s",
      "eval modes sampling: 20/30 samples, 2.5 samples/s, ETA 4 s"]


def test_chunks_count_the_last_chunk_as_what_it_keeps():
  # 2,500 samples made 1,000 at a time, 1 s a chunk: chunks 0, 1, 2, the last counting 500;
  # the rate leaves out the first chunk: 1,500 samples in the last 2 s
  clock, out = FakeClock(), io.StringIO()
  seen = []
  for i in chunks(2500, 1000, "modes sampling", clock=clock, out=out, quiet_s=0.0,
                  every_s=0.0):
    seen.append(i)
    clock.now += 1.0
  assert seen == [0, 1, 2]
  assert out.getvalue().splitlines()[-1] == (
      "eval modes sampling: 2,500/2,500 samples, 750 samples/s, done in 3 s")


def test_durations_read_as_seconds_minutes_and_hours():
  assert [duration(s) for s in (17, 245, 3720, float("inf"))] == [
      "17 s", "4 min 05 s", "1 h 02 min", "?"]

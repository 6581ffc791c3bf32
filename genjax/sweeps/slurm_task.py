"""The callable each SLURM array task runs (kept apart so launch.py imports without submitit).

submitit pickles it into the job; when SLURM signals a timeout or preemption,
`Checkpointable.checkpoint` resubmits the same call, and the member resumes from its
newest checkpoint (the runner also saves one on SIGTERM), so no work is repeated beyond
the last checkpoint interval.
"""
from __future__ import annotations

import submitit

from genjax.sweeps import member


class MemberTask(submitit.helpers.Checkpointable):
  """Trains one sweep member; requeued as the same call after preemption."""

  def __call__(self, config_spec: str, overrides: dict, workdir: str, name: str):
    return member.train_member(config_spec, overrides, workdir, name)

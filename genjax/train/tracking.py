"""Where a run's scalars and figures go besides metrics.jsonl: TensorBoard, and wandb if asked.

TensorBoard (events/) always gets every logged scalar and every PNG figure the run
writes (as an image, HWC). With `config.train.wandb.project` set, a wandb run gets the
same scalars and figures at the same steps. Its id is kept in the run directory
(`wandb.json`), so a resumed run continues the same wandb run (`resume='allow'`); a
member of a sweep (a run directory beside the sweep's `sweep.json`) is grouped under the
sweep's name and named after the member. A resume from step S after steps up to L were
logged (a crash after the last checkpoint) logs S+1..L again: TensorBoard is opened with
`purge_step=S+1`, so it shows the new events only; wandb refuses steps below its
last one, so its records of S+1..L are kept and the repeats are not sent (a resume is
bit-exact, so they hold the same numbers). wandb is an optional extra: a run that asks for
it without it installed is refused before it starts (`check_available`).

Only process 0 of a multi-host job opens one (`log.MetricsLog`).
"""
from __future__ import annotations

import json
import math
import os

from genjax import config as gconfig
from genjax.errors import ConfigError, GenjaxError

SWEEP_FILE = "sweep.json"  # what a sweep writes at its root (genjax.sweeps.launch)
ID_FILE = "wandb.json"
FIGURES = "figures"


def wanted(config) -> bool:
  """Whether the config turns wandb on (a project, and a mode other than 'disabled')."""
  return bool(gconfig.optional(config, "train.wandb.project")) and (
      gconfig.optional(config, "train.wandb.mode") != "disabled")


def check_available(config) -> None:
  """Refuses, in one line, a config that turns wandb on where wandb is not installed."""
  if not wanted(config):
    return
  try:
    import wandb  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    project = gconfig.optional(config, "train.wandb.project")
    raise ConfigError(f"config.train.wandb.project={project!r} logs to wandb, which is not "
                      "installed; pip install 'genjax[wandb]', or set "
                      "config.train.wandb.project='' to train without it") from None


def sweep_identity(workdir: str) -> tuple[str, str] | None:
  """(sweep name, member name) when workdir is a sweep member's directory, else None."""
  path = os.path.abspath(workdir)
  root = os.path.dirname(path)
  if not os.path.isfile(os.path.join(root, SWEEP_FILE)):
    return None
  return os.path.basename(root), os.path.basename(path)


class Tracker:
  """Fans scalars and figures out to TensorBoard and, when configured, a wandb run.

  Args:
    workdir: the run directory (events/ and the wandb id are kept there).
    config: the run's config (its train.wandb keys; the whole config is the run's wandb
      config). None: TensorBoard only.
    resume_step: the restored step of a resumed run (None: a fresh start).
    logged_through: the last step the run had logged before this start, if any.
  """

  def __init__(self, workdir: str, config=None, resume_step: int | None = None,
               logged_through: int | None = None):
    self.workdir = workdir
    self._tb = self._wandb = None
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
    self._seen = _figure_stamps(workdir)  # a resumed run's earlier figures were logged then
    self._wandb_through = -1  # the last step this wandb run already holds
    if config is not None and wanted(config):
      if logged_through is not None and os.path.isfile(os.path.join(workdir, ID_FILE)):
        self._wandb_through = int(logged_through)  # wandb was on before the restart too
      self._wandb = _open_wandb(workdir, config)
    restarted = resume_step is not None and logged_through is not None
    self._tb = SummaryWriter(os.path.join(workdir, "events"),
                             purge_step=int(resume_step) + 1 if restarted else None)

  def scalars(self, step: int, split: str, metrics: dict) -> None:
    """Logs each finite number of `metrics` as `split/name` at `step`."""
    if self._tb is None:
      return
    numbers = {f"{split}/{name}": float(value) for name, value in metrics.items()
               if _is_number(value) and math.isfinite(float(value))}
    for tag, value in numbers.items():
      self._tb.add_scalar(tag, value, int(step))
    if self._wandb is not None and numbers and step > self._wandb_through:
      self._wandb.log(numbers, step=int(step))

  def figures(self, step: int) -> list[str]:
    """Logs the PNGs under figures/ written since the last call (by the figure writer or
    an evaluator) as images `figures/<name>` at `step`; returns their paths."""
    if self._tb is None:
      return []
    stamps = _figure_stamps(self.workdir)
    new = sorted(p for p, s in stamps.items() if self._seen.get(p) != s)
    self._seen = stamps
    images = {}
    for path in new:
      tag = os.path.splitext(os.path.relpath(path, self.workdir))[0].replace(os.sep, "/")
      images[tag] = _read_rgb(path)
      self._tb.add_image(tag, images[tag], int(step), dataformats="HWC")
    if self._wandb is not None and images and step > self._wandb_through:
      import wandb  # pylint: disable=g-import-not-at-top
      self._wandb.log({tag: wandb.Image(image) for tag, image in images.items()},
                      step=int(step))
    return new

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()
      self._tb = None
    if self._wandb is not None:
      self._wandb.finish()
      self._wandb = None


def _open_wandb(workdir: str, config):
  """Starts (or, with the id kept in the run directory, resumes) the run's wandb run."""
  import wandb  # pylint: disable=g-import-not-at-top
  id_path = os.path.join(workdir, ID_FILE)
  run_id = None
  if os.path.isfile(id_path):
    with open(id_path) as f:
      run_id = json.load(f).get("id")
  member = sweep_identity(workdir)
  mode = gconfig.optional(config, "train.wandb.mode")
  kwargs = dict(
      project=gconfig.optional(config, "train.wandb.project"),
      entity=gconfig.optional(config, "train.wandb.entity") or None,
      tags=list(gconfig.optional(config, "train.wandb.tags")) or None,
      group=member[0] if member else None,
      name=member[1] if member else os.path.basename(os.path.abspath(workdir)),
      id=run_id, resume="allow",  # a first start: wandb makes the id, kept below
      config={**json.loads(gconfig.to_json(config)),
              "config_fingerprint": gconfig.fingerprint(config)},
      # WANDB_DIR wins; else the run directory holds wandb's files (offline runs to sync)
      dir=os.environ.get("WANDB_DIR") or workdir,
      reinit="create_new",  # a population trains several members, each its own run
      settings=wandb.Settings(console="off"))  # stdout/stderr stay ours (one-line errors)
  if mode != "online":  # 'online' is wandb's default: WANDB_MODE still applies
    kwargs["mode"] = mode
  try:
    run = wandb.init(**kwargs)
  except Exception as e:  # pylint: disable=broad-except  # wandb's errors vary by version
    text = " ".join(str(e).split())[:200]
    raise GenjaxError(f"wandb could not start a run for {workdir} ({type(e).__name__}: "
                      f"{text}); run `wandb login`, or set config.train.wandb.mode=offline "
                      "(sync later) or config.train.wandb.project='' (no wandb)") from None
  if run_id is None:
    os.makedirs(workdir, exist_ok=True)
    tmp = id_path + ".tmp"
    with open(tmp, "w") as f:
      json.dump({"id": run.id, "project": kwargs["project"]}, f)
    os.replace(tmp, id_path)
  return run


def _figure_stamps(workdir: str) -> dict[str, tuple[int, int]]:
  """(mtime in ns, size) of every PNG under workdir/figures."""
  stamps = {}
  for folder, _, names in os.walk(os.path.join(workdir, FIGURES)):
    for name in names:
      if name.endswith(".png"):
        path = os.path.join(folder, name)
        try:
          st = os.stat(path)
        except OSError:  # removed meanwhile
          continue
        stamps[path] = (st.st_mtime_ns, st.st_size)
  return stamps


def _read_rgb(path: str):
  """A PNG as a uint8 [H, W, 3] array (grey and RGBA figures converted)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  with Image.open(path) as image:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _is_number(value) -> bool:
  """Python and numpy numbers (a bool counts as 0 or 1); strings and lists do not."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  return isinstance(value, (int, float, np.floating, np.integer))

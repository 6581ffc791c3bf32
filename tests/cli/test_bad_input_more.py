"""More bad input through the real CLI: one stderr line naming the problem and the fix,
exit 2, no traceback, and the run directory's listing and checksums unchanged (no
config.json left by a refused start)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.cli.test_bad_input import _assert_one_line_error
from tests.conftest import ROOT, run_cli

# Its module fixtures train runs: pytest-xdist keeps the module on one worker (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_bad_input_more")

SMOKE = "--config=configs/vae.py:smoke"
TINY = ["--config.train.num_steps=2", "--config.train.log_every=1",
        "--config.train.checkpoint_every=2", "--config.train.eval_every=2",
        "--config.train.figure_every=2"]


def snapshot(root) -> dict[str, str]:
  """Relative path -> sha256 of every file under root (directories as '<dir>')."""
  out = {}
  for dirpath, dirnames, filenames in os.walk(root):
    for d in dirnames:
      out[os.path.relpath(os.path.join(dirpath, d), root)] = "<dir>"
    for f in filenames:
      with open(os.path.join(dirpath, f), "rb") as fh:
        out[os.path.relpath(os.path.join(dirpath, f), root)] = hashlib.sha256(fh.read()).hexdigest()
  return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A two-step smoke VAE run, copied by each test that damages it."""
  workdir = tmp_path_factory.mktemp("trained") / "run"
  proc = run_cli("train", SMOKE, f"--workdir={workdir}", *TINY)
  assert proc.returncode == 0, proc.stderr[-2000:]
  return workdir


def _copy(trained, tmp_path):
  dst = tmp_path / "run"
  shutil.copytree(trained, dst)
  return dst


def _write_user_file(tmp_path, name, text):
  path = tmp_path / name
  path.write_text(text)
  return str(path)


# --- train: refused before the run directory is touched -------------------------------

RAISES = "def get_config(arg=None):\n  raise ValueError('boom')\n"
IMPORTS_MISSING = "import genjax_no_such_module\n"
RETURNS_INT = "def get_config(arg=None):\n  return 3\n"


def _config_file(text):
  return lambda d: ["--config=" + _write_user_file(d, "c.py", text)]


@pytest.mark.parametrize("make_args, fragments", [
    (_config_file(RAISES), ["get_config(None)", "raised ValueError: boom", "fix the config file"]),
    (_config_file(IMPORTS_MISSING), ["imports 'genjax_no_such_module'",
                                     "install it or remove the import"]),
    (_config_file(RETURNS_INT), ["returned int", "ConfigDict"]),
    (lambda d: ["--config=configs/vae.py:digits", "--config.data.batch_size=5000",
                "--config.train.steps_per_call=1"],
     ["data.batch_size=5000", "1500 training examples", "lower data.batch_size"]),
    (lambda d: [SMOKE, "--config.evals.elbo.type=elbow"], ["unknown evaluator 'elbow'"]),
    (lambda d: [SMOKE, "--config.data.eval_batch_size=1000"],
     ["data.num_eval=128 is below one data.eval_batch_size=1000"]),
    (lambda d: ["--config=configs/diffusion.py:smoke", "--config.evals.nll.num_examples=10"],
     ["config.evals.nll.num_examples=10", "raise config.evals.nll.num_examples to at least 64"]),
])
def test_a_refused_start_writes_nothing(tmp_path, make_args, fragments):
  workdir = tmp_path / "run"
  workdir.mkdir()
  (workdir / "notes.md").write_text("mine")
  before = snapshot(workdir)
  proc = run_cli("train", *make_args(tmp_path), f"--workdir={workdir}", *TINY)
  _assert_one_line_error(proc, *fragments)
  assert snapshot(workdir) == before


def test_a_refused_start_in_a_new_directory_creates_none(tmp_path):
  workdir = tmp_path / "new"
  _assert_one_line_error(run_cli("train", SMOKE, "--config.evals.elbo.type=elbow",
                                 f"--workdir={workdir}"), "unknown evaluator")
  assert not workdir.exists()  # no config.json to block the corrected command


def test_a_file_as_workdir_is_refused_and_kept(tmp_path):
  path = tmp_path / "afile"
  path.write_text("data")
  _assert_one_line_error(run_cli("train", SMOKE, f"--workdir={path}"),
                         "is an existing file, not a directory")
  assert path.read_text() == "data"


# --- a damaged config.json under eval, sample, report ---------------------------------

def _bad_json(config_path):
  config_path.write_text("{not json")


def _wrong_type(config_path):
  config = json.loads(config_path.read_text())
  config["data"]["batch_size"] = "sixteen"
  config_path.write_text(json.dumps(config))


def _not_a_dict(config_path):
  config_path.write_text("[1, 2]")


@pytest.mark.parametrize("damage, fragments", [
    (_bad_json, ["config.json is not a valid config", "JSONDecodeError"]),
    (_wrong_type, ["config.data.batch_size='sixteen' has the wrong type", "expected int"]),
    (_not_a_dict, ["config.json is not a valid config"]),
])
@pytest.mark.parametrize("command", [["eval"], ["sample", "--num=4"], ["report"]])
def test_a_damaged_config_json_is_one_line(trained, tmp_path, damage, fragments, command):
  workdir = _copy(trained, tmp_path)
  damage(workdir / "config.json")
  before = snapshot(workdir)
  proc = run_cli(command[0], f"--workdir={workdir}", *command[1:])
  _assert_one_line_error(proc, *fragments, "restore")
  assert snapshot(workdir) == before


# --- uses of a trained run ------------------------------------------------------------

@pytest.mark.parametrize("args, fragments", [
    (["eval", "--evals=,"], ["--evals=',' names no evaluator"]),
    (["eval", "--evals=traversal", "--config.evals.traversal.around=nowhere"],
     ["around='nowhere' is unknown"]),
    (["sample", "--label=3"], ["--label needs a label-conditional model", "drop --label"]),
    (["sample", "--label=-4"], ["--label=-4 is not a class"]),
    (["sample", "--sampler=ddim"], ["--sampler choose how a diffusion model samples",
                                    "'vae'", "drop --sampler"]),
    (["translate", "--input=NOTNPZ"], ["is not an .npz archive"]),
    (["translate", "--input=FAKENPZ"], ["is not a readable .npz archive"]),
    (["translate", "--input=IMAGES"], ["model family 'vae' does not translate"]),
])
def test_a_wrong_use_of_a_trained_run_is_one_line(trained, tmp_path, args, fragments):
  workdir = _copy(trained, tmp_path)
  (tmp_path / "x.txt").write_text("not an archive")
  (tmp_path / "fake.npz").write_bytes(b"PK\x03\x04 truncated")
  np.savez(tmp_path / "images.npz", x=np.zeros((2, 16, 16, 1), np.float32))
  paths = {"NOTNPZ": tmp_path / "x.txt", "FAKENPZ": tmp_path / "fake.npz",
           "IMAGES": tmp_path / "images.npz"}
  args = [a.split("=")[0] + "=" + str(paths[a.split("=")[1]]) if a.split("=")[-1] in paths
          else a for a in args]
  before = snapshot(workdir)
  _assert_one_line_error(run_cli(args[0], f"--workdir={workdir}", *args[1:]), *fragments)
  assert snapshot(workdir) == before


def test_sample_writes_under_its_own_names_and_keeps_the_training_figures(trained, tmp_path):
  workdir = _copy(trained, tmp_path)
  training = {n: (workdir / "figures" / n).read_bytes() for n in os.listdir(workdir / "figures")}
  for seed in (0, 1):
    proc = run_cli("sample", f"--workdir={workdir}", "--num=4", f"--seed={seed}")
    assert proc.returncode == 0, proc.stderr[-2000:]
  for name, content in training.items():
    assert (workdir / "figures" / name).read_bytes() == content, name
  assert (workdir / "figures" / "sample_n4_seed0.png").exists()
  assert (workdir / "figures" / "sample_n4_seed1.png").exists()
  a = np.load(workdir / "samples_n4_seed0.npz")["samples"]
  b = np.load(workdir / "samples_n4_seed1.npz")["samples"]
  assert a.shape == b.shape == (4, 16, 16, 1) and not np.array_equal(a, b)


def test_one_failing_evaluator_leaves_the_others_printed_and_written(trained, tmp_path):
  workdir = _copy(trained, tmp_path)
  proc = run_cli("eval", f"--workdir={workdir}", "--evals=recon,translation,elbo")
  _assert_one_line_error(proc, "evaluator 'translation'", "2 other(s) finished")
  assert "recon (step 2): mse_per_dim=" in proc.stdout and "elbo (step 2): nelbo_nats=" in proc.stdout
  assert (workdir / "evals" / "recon.json").exists() and (workdir / "evals" / "elbo.json").exists()
  assert not (workdir / "evals" / "translation.json").exists()


def test_report_counts_an_eval_with_options_as_this_run(trained, tmp_path):
  workdir = _copy(trained, tmp_path)
  proc = run_cli("eval", f"--workdir={workdir}", "--evals=traversal",
                 "--config.evals.traversal.num_values=3")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert run_cli("report", f"--workdir={workdir}").returncode == 0
  report = (workdir / "report.md").read_text()
  section = report.split("### traversal")[1].split("###")[0]
  assert "from this config" in section and "another config" not in section


# --- sweeps ---------------------------------------------------------------------------

@pytest.mark.parametrize("body, fragments", [
    ("def get_sweep():\n  return None\n", ["returned None", "non-empty list of dicts"]),
    ("def get_sweep():\n  return [{1: 2}]\n", ["member 0 has the key 1", "strings"]),
    ("def get_sweep():\n  return [3]\n", ["member 0 is 3, not a dict"]),
    ("def get_sweep():\n  raise KeyError('x')\n", ["get_sweep()", "raised KeyError"]),
])
def test_a_bad_get_sweep_is_one_line(tmp_path, body, fragments):
  sweep = _write_user_file(tmp_path, "sweep.py", "CONFIG = 'configs/vae.py:smoke'\n" + body)
  root = tmp_path / "study"
  _assert_one_line_error(run_cli("sweep", f"--sweep={sweep}", f"--workdir={root}"), *fragments)
  assert not root.exists()


# --- read-only directories ------------------------------------------------------------

def _writes_blocked(path) -> bool:
  """chmod blocks writes only for an unprivileged user: root writes anyway."""
  probe = os.path.join(path, ".probe")
  try:
    with open(probe, "w"):
      pass
  except OSError:
    return True
  os.remove(probe)
  return False


@pytest.mark.parametrize("command", [["train", SMOKE, *TINY], ["eval"], ["sample", "--num=4"],
                                     ["train-new", SMOKE, *TINY]])
def test_a_read_only_run_directory_is_one_line(trained, tmp_path, command):
  workdir = _copy(trained, tmp_path)
  target = workdir if command[0] != "train-new" else tmp_path / "ro"
  if command[0] == "train-new":
    target.mkdir()
  paths = [os.path.join(dp, n) for dp, ds, _ in os.walk(target) for n in ds] + [str(target)]
  for p in paths:
    os.chmod(p, 0o555)
  try:
    if not _writes_blocked(target):
      pytest.skip("running as root: chmod does not block writes here (no read-only bind "
                  "mount available to an unprivileged test)")
    before = snapshot(target)
    workdir_arg = target / "run" if command[0] == "train-new" else target
    name = "train" if command[0] == "train-new" else command[0]
    proc = run_cli(name, f"--workdir={workdir_arg}", *command[1:])
    _assert_one_line_error(proc, "writ")
    assert snapshot(target) == before
  finally:
    for p in paths:
      os.chmod(p, 0o755)


# --- Ctrl-C after the command: while the interpreter shuts down ------------------------

def test_ctrl_c_while_the_interpreter_shuts_down_keeps_the_commands_exit_code(tmp_path):
  """A Ctrl-C that lands after the command has finished, while Python shuts down (here sent
  from an atexit hook, which runs in that window): it is ignored, so the process ends with
  the command's own exit code (2: the refused config), not killed by the signal (-2) or
  turned into an interrupt (130)."""
  code = ("import atexit, os, signal, sys, time; "
          "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.2))); "
          "sys.argv = ['genjax', 'train', '--config=configs/nonexistent.py', "
          f"'--workdir={tmp_path / 'run'}']; "
          "from genjax import interrupt; interrupt.install(); "
          "from genjax.cli import run; run()")
  proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                        env=dict(os.environ, JAX_PLATFORMS="cpu"), timeout=120)
  assert proc.returncode == 2, (proc.returncode, proc.stderr[-1500:])
  assert "interrupted" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


# --- Ctrl-C during start-up -----------------------------------------------------------

@pytest.mark.parametrize("delay", [0.5, 2.0, 4.0])
def test_ctrl_c_during_start_up_is_one_line_without_a_traceback(tmp_path, delay):
  workdir = tmp_path / "run"
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  proc = subprocess.Popen([sys.executable, "-m", "genjax", "train", SMOKE, f"--workdir={workdir}"],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
  time.sleep(delay)
  proc.send_signal(signal.SIGINT)
  _, stderr = proc.communicate(timeout=120)
  assert proc.returncode in (130, 0, 2), (proc.returncode, stderr[-1500:])  # never a segfault
  assert "Traceback" not in stderr, stderr[-1500:]
  errors = [l for l in stderr.splitlines() if l.startswith("genjax: error:")]
  if proc.returncode == 130:
    assert len(errors) == 1 and "interrupted" in errors[0], stderr

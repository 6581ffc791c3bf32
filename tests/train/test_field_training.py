"""The field's datasets train: a beta-VAE on a dSprites-format file through the runner (with
the factor-aware evaluators), and a VAE, a GAN and diffusion on 3-channel 64x64 images."""
from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from genjax.data import file_testing as ft
from genjax.train import runner, session
from tests.conftest import load, read_metrics

# Its module fixtures train runs: pytest-xdist keeps the module on one worker (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_field_training")

TINY = dict(data__batch_size=8, data__eval_batch_size=8, data__num_eval=16, data__num_test=16,
            train__log_every=2, train__checkpoint_every=2, train__eval_every=2,
            train__figure_every=0)


def test_beta_vae_trains_and_evaluates_on_a_dsprites_file(tmp_path):
  path = str(tmp_path / "dsprites.npz")
  ft.write_dsprites(path, (1, 3, 2, 4, 4, 4), side=16)  # 384 images of 16x16
  config = load("vae.py:smoke", data__name="dsprites", data__path=path, train__num_steps=2,
                **TINY)
  config.evals = dict(elbo=dict(type="elbo"), traversal=dict(type="traversal", num_values=3),
                      features=dict(type="features", num_train=64, num_test=16, chunk=16))
  workdir = str(tmp_path / "run")
  assert int(runner.train_and_evaluate(config, workdir).step) == 2
  assert all(math.isfinite(r["loss"]) for r in read_metrics(workdir))
  traversal = read_metrics(workdir, "eval/traversal")[-1]
  # Each of the 4 rows names one of the file's 5 factors (colour, of size 1, is dropped).
  assert {int(traversal[f"factor_index_{r}"]) for r in range(4)} <= set(range(5))
  assert all(0 <= traversal[f"factor_nmi_{r}"] <= 1 for r in range(4))
  features = read_metrics(workdir, "eval/features")[-1]
  assert {"probe_r2_posX", "probe_acc_shape"} <= set(features)
  saved = np.load(f"{workdir}/evals/features.npz")
  assert str(saved["dataset"]) == "dsprites" and "posY" in saved["factor_names"]


@pytest.fixture(scope="module")
def rgb64(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("shapes") / "3dshapes.h5")
  ft.write_shapes3d(path, (2, 2, 2, 2, 2, 1), side=64)  # 32 images of 64x64x3
  return path


@pytest.mark.parametrize("spec, overrides", [
    ("vae.py:smoke", dict(model__channels=4, model__hidden=16)),
    ("gan.py:smoke", dict(model__net="conv", model__channels=2, model__latent_dim=8)),
    ("diffusion.py:smoke", dict(model__net="conv", model__channels=4, model__channel_mults=(1, 1))),
])
def test_a_train_step_runs_on_3_channel_64x64_images(tmp_path, rgb64, spec, overrides):
  config = load(spec, data__name="shapes3d", data__path=rgb64, data__cache_dir=str(tmp_path),
                data__batch_size=4, data__num_test=4, **overrides)
  s = session.open_session(config, str(tmp_path))
  assert s.train.info.x_shape == (64, 64, 3)
  batch = s.train.get_batch(np.arange(4))
  # Keys of the 'rbg' generator: initialisation compiles in half the time of threefry's,
  # and this test checks shapes and finiteness, not numbers. A decoder, generator or
  # denoiser emitting other than 3 channels fails inside the step (its loss compares the
  # output with x, or the discriminator sees both).
  state = jax.jit(s.family.init)(jax.random.key(0, impl="rbg"), batch, s.hp)
  state, metrics = jax.jit(s.family.train_step)(state, batch, jax.random.key(1, impl="rbg"), s.hp)
  assert int(state.step) == 1
  assert all(np.isfinite(np.asarray(v)).all() for v in metrics.values()), metrics


@pytest.mark.parametrize("name,sizes", [("dsprites", (1, 3, 2, 4, 4, 4)), ("shapes3d", (2,) * 6)])
def test_disentanglement_reports_every_metric_on_dsprites_and_3d_shapes_files(tmp_path, name,
                                                                             sizes):
  """`genjax eval --evals=disentanglement` on a run trained from each file format: every
  metric of the protocol, one MIG gap per factor the file declares, in its range."""
  from genjax import evals as gevals  # pylint: disable=g-import-not-at-top
  if name == "dsprites":
    path = str(tmp_path / "dsprites.npz")
    ft.write_dsprites(path, sizes, side=16)
    factors = 5  # colour, of size 1, is dropped
  else:
    path = str(tmp_path / "3dshapes.h5")
    ft.write_shapes3d(path, sizes, side=16)
    factors = 6
  config = load("vae.py:smoke", data__name=name, data__path=path, data__cache_dir=str(tmp_path),
                train__num_steps=2, **TINY)
  workdir = str(tmp_path / "run")
  runner.train_and_evaluate(config, workdir)
  run, ctx = session.load_trained(workdir, overrides={
      "evals.disentanglement.type": "disentanglement",
      "evals.disentanglement.protocol": "tiny"})
  out = gevals.run_evals(ctx, gevals.resolve(["disentanglement"], run.config.evals))
  metrics = out["disentanglement"]
  assert metrics["protocol"] == "tiny"
  assert sorted(k for k in metrics if k.startswith("mig_")) == [f"mig_{k}" for k in range(factors)]
  for key in ("mig", "betavae_score", "factorvae_score", "dci_disentanglement",
              "dci_completeness", "dci_informativeness", "sap", "modularity", "explicitness",
              "gaussian_wasserstein_correlation_norm"):
    assert 0 <= metrics[key] <= 1, (key, metrics[key])
  # Mutual information (nats) and total correlation are >= 0, not bounded by 1.
  assert metrics["mutual_info_score"] >= 0 and metrics["gaussian_total_correlation"] >= 0

"""The TFDS path: a VAE trains from a dataset prepared on disk, read without TensorFlow."""
from __future__ import annotations

from genjax.data import tfds_testing
from genjax.train import runner
from tests.conftest import load, read_metrics


def test_vae_trains_from_an_on_disk_tfds_dataset(tmp_path):
  data_dir = str(tmp_path / "tfds")
  tfds_testing.build_tiny_dataset(data_dir, name="genjax_tiny", num_train=64, num_test=16,
                                  shape=(16, 16, 1))
  config = load("vae.py:smoke", data__name="tfds:genjax_tiny", data__data_dir=data_dir,
                data__batch_size=16, data__eval_batch_size=16, data__num_eval=16, data__num_test=0,
                model__likelihood="bernoulli", train__num_steps=40, train__log_every=10,
                train__checkpoint_every=40, train__eval_every=40, train__figure_every=0)
  state = runner.train_and_evaluate(config, str(tmp_path / "run"))
  assert int(state.step) == 40
  losses = [r["loss"] for r in read_metrics(str(tmp_path / "run"))]
  assert losses[-1] < losses[0]
  evals = read_metrics(str(tmp_path / "run"), "eval/elbo")
  assert evals[-1]["num_examples"] == 16 and evals[-1]["nelbo_nats"] > 0

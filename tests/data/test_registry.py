"""genjax.data.load: dispatch by name, and one-line errors for unknown names."""
from __future__ import annotations

import subprocess
import sys

import pytest

from genjax import data as gdata
from genjax.errors import DataError


def test_known_names_dispatch(data_cfg):
  assert set(gdata.DATASETS) == {"sprites", "digits", "toy2d", "stacked_digits", "paired_shapes",
                                 "unpaired_shapes", "dsprites", "shapes3d", "mpi3d", "folder"}
  assert gdata.load(data_cfg(name="digits"), "test").info.name == "digits"
  assert gdata.load(data_cfg(name="toy2d", num_test=10), "test").info.x_shape == (2,)
  assert gdata.load(data_cfg(name="sprites", resolution=16), "test").info.x_shape == (16, 16, 1)


def test_unknown_name_suggests_the_closest(data_cfg):
  with pytest.raises(DataError, match="did you mean 'sprites'.*digits.*tfds:NAME"):
    gdata.load(data_cfg(name="sprite"), "train")
  with pytest.raises(DataError, match="unknown dataset data.name='zzz'; known"):
    gdata.load(data_cfg(name="zzz"), "train")


def test_importing_genjax_data_does_not_import_tfds_sklearn_h5py_or_pillow():
  code = ("import sys, genjax.data; print(*(m in sys.modules for m in "
          "('tensorflow_datasets', 'sklearn', 'h5py', 'PIL')))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
  assert out.stdout.split() == ["False"] * 4

"""Bad dataset files through the CLI: one line naming the problem and the fix, exit 2, the
run directory untouched."""
from __future__ import annotations

import os

import pytest

from genjax.data import file_testing as ft
from tests.cli.test_bad_input import _assert_one_line_error
from tests.conftest import run_cli


def _truncated_dsprites(d):
  path = d / "dsprites.npz"
  ft.write_dsprites(str(path), (1, 3, 2, 2, 2, 2), side=8)
  path.write_bytes(path.read_bytes()[:-200])  # the zip's directory sits at its end
  return "dsprites", path


def _npz_as_shapes3d(d):
  path = d / "3dshapes.h5"
  ft.write_mpi3d(str(path), (2, 1, 1, 1, 1, 1, 1), side=8)  # an npz under the h5 name
  return "shapes3d", path


def _mpi3d_of_another_grid(d):
  path = d / "mpi3d_toy.npz"
  ft.write_mpi3d(str(path), (2, 1, 2, 1, 1, 3, 2), side=8)  # 24 images, not 1,036,800
  return "mpi3d", path


def _empty_folder(d):
  (d / "pngs" / "cat").mkdir(parents=True)
  (d / "pngs" / "notes.txt").write_text("no images here")
  return "folder", d / "pngs"


def _missing_file(d):
  return "dsprites", d / "nowhere.npz"


@pytest.mark.parametrize("make, fragments", [
    (_missing_file, ["nowhere.npz", "does not exist"]),
    (_truncated_dsprites, ["not a readable .npz", "truncated or in another format"]),
    (_npz_as_shapes3d, ["not a readable HDF5 file", "3dshapes.h5"]),
    (_mpi3d_of_another_grid, ["24 images do not match the factor sizes", "data.factor_sizes"]),
    (_empty_folder, ["holds no .png/.jpg/.jpeg images"]),
])
def test_a_bad_data_file_is_one_line_and_exit_2_and_nothing_is_written(tmp_path, make,
                                                                       fragments):
  name, path = make(tmp_path)
  workdir = tmp_path / "run"
  workdir.mkdir()
  (workdir / "notes.md").write_text("mine")
  proc = run_cli("train", "--config=configs/vae.py:smoke", f"--config.data.name={name}",
                 f"--config.data.path={path}", f"--config.data.cache_dir={tmp_path / 'cache'}",
                 f"--workdir={workdir}")
  _assert_one_line_error(proc, *fragments)
  assert os.listdir(workdir) == ["notes.md"] and (workdir / "notes.md").read_text() == "mine"

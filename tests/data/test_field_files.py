"""dSprites, 3D Shapes and MPI3D read from small files in their authors' exact formats.

Every file holds marked images (image f is seeded by its flat grid index f), so each test
recomputes the image a record must hold from the record's own factors.
"""
from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest

from genjax import data as gdata
from genjax.data import file_testing as ft
from genjax.data.base import FactorSource
from genjax.errors import DataError

DSPRITES_SIZES = (1, 3, 2, 2, 2, 2)  # colour of size 1, as in the real file
SHAPES_SIZES = (2, 2, 3, 2, 2, 2)
MPI_SIZES = (2, 1, 2, 1, 2, 3, 2)


def flat_of(factors_NK, sizes):
  strides = np.cumprod((1,) + tuple(sizes)[:0:-1])[::-1]
  return np.asarray(factors_NK) @ strides


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  root = tmp_path_factory.mktemp("field")
  paths = {"dsprites": str(root / "dsprites.npz"), "shapes3d": str(root / "3dshapes.h5"),
           "shapes3d_chunked": str(root / "chunked.h5"), "mpi3d": str(root / "mpi3d_toy.npz"),
           "mpi3d_compressed": str(root / "mpi3d_real.npz"), "cache": str(root / "cache")}
  ft.write_dsprites(paths["dsprites"], DSPRITES_SIZES, side=16)
  ft.write_shapes3d(paths["shapes3d"], SHAPES_SIZES, side=8)
  ft.write_shapes3d(paths["shapes3d_chunked"], SHAPES_SIZES, side=8, chunked=True)
  ft.write_mpi3d(paths["mpi3d"], MPI_SIZES, side=8)
  ft.write_mpi3d(paths["mpi3d_compressed"], MPI_SIZES, side=8, compressed=True)
  return paths


def source(data_cfg, files, key, split="train", **kw):
  name = key.split("_")[0]
  extra = {"factor_sizes": MPI_SIZES} if name == "mpi3d" else {}
  return gdata.load(data_cfg(name=name, path=files[key], cache_dir=files["cache"], **extra, **kw),
                    split)


def test_dsprites_factors_come_from_the_file_and_colour_is_dropped(data_cfg, files):
  src = source(data_cfg, files, "dsprites")
  assert src.info.factor_names == ("shape", "scale", "orientation", "posX", "posY")
  assert src.info.factor_sizes == (3, 2, 2, 2, 2) and src.info.binary
  assert src.info.x_shape == (16, 16, 1) and src.info.categorical_factors == ("shape",)
  assert isinstance(src, FactorSource)


@pytest.mark.parametrize("key, sizes, marks", [
    ("dsprites", DSPRITES_SIZES, ((16, 16), True)),
    ("shapes3d", SHAPES_SIZES, ((8, 8, 3), False)),
    ("shapes3d_chunked", SHAPES_SIZES, ((8, 8, 3), False)),
    ("mpi3d", MPI_SIZES, ((8, 8, 3), False)),
    ("mpi3d_compressed", MPI_SIZES, ((8, 8, 3), False)),
])
def test_every_record_holds_the_image_of_its_factors(data_cfg, files, key, sizes, marks):
  train, test = source(data_cfg, files, key), source(data_cfg, files, key, "test")
  kept = [k for k, s in enumerate(sizes) if s > 1]
  num = int(np.prod(sizes))
  # A tenth of the grid is held out, and the splits partition it.
  assert len(test) == num // 10 and len(train) + len(test) == num
  seen = []
  for src in (train, test):
    batch = src.get_batch(np.arange(len(src))[::-1])  # any order
    full = np.zeros((len(src), len(sizes)), np.int64)
    full[:, kept] = batch["factors"]
    flat = flat_of(full, sizes)
    scale = 1.0 if marks[1] else 255.0
    expected = ft.marked_images(*marks)(flat).reshape(batch["x"].shape) / np.float32(scale)
    np.testing.assert_allclose(batch["x"], expected, rtol=1e-6)  # k * fl(1/255) vs k / 255
    seen.append(flat)
  assert sorted(np.concatenate(seen)) == list(range(num))
  # The whole grid is served by factors, whatever the split: here the test cells from train.
  cells = test.get_batch(np.arange(len(test)))
  np.testing.assert_array_equal(train.get_by_factors(cells["factors"])["x"], cells["x"])


def test_chunked_and_contiguous_shapes3d_read_the_same_and_labels_give_values(data_cfg, files):
  a, b = source(data_cfg, files, "shapes3d"), source(data_cfg, files, "shapes3d_chunked")
  idx = np.array([7, 0, 7, 3])
  np.testing.assert_array_equal(a.get_batch(idx)["x"], b.get_batch(idx)["x"])
  values = a.get_by_factors(np.array([[1, 1, 2, 1, 1, 1]]))["factor_values"][0]
  # The writer's values: hues linspace(0, 1), shape index, orientation linspace(-30, 30).
  np.testing.assert_allclose(values, [1.0, 1.0, 1.0, 1.0, 1.0, 30.0])


def test_pickled_metadata_naming_any_other_global_is_refused_unrun(data_cfg, tmp_path):
  good, path = str(tmp_path / "good.npz"), str(tmp_path / "evil.npz")
  ft.write_dsprites(good, DSPRITES_SIZES, side=8)

  class Evil:
    def __reduce__(self):
      return (pickle.loads, (b"",))  # would run on load under np.load(allow_pickle=True)

  array = np.empty((), object)
  array[()] = {"latents_sizes": Evil()}
  with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
    for name in src.namelist():
      member = src.read(name)
      if name == "metadata.npy":  # the same .npy header, another pickle
        member = member[:128] + pickle.dumps(array, protocol=2)
      dst.writestr(name, member)
  with pytest.raises(DataError, match="refusing to unpickle 'pickle.loads'"):
    gdata.load(data_cfg(name="dsprites", path=path), "train")


def test_latents_classes_out_of_c_order_are_refused(data_cfg, tmp_path):
  path = str(tmp_path / "swapped.npz")
  ft.write_dsprites(path, (1, 3, 2, 2, 2, 2), side=8, classes_sizes=(1, 3, 2, 2, 2, 2)[::-1])
  with pytest.raises(DataError, match="latents_classes has shape|not in C order"):
    gdata.load(data_cfg(name="dsprites", path=path), "train")


def test_a_replaced_file_is_read_again(data_cfg, tmp_path):
  path = str(tmp_path / "d.npz")
  ft.write_dsprites(path, DSPRITES_SIZES, side=8)
  first = gdata.load(data_cfg(name="dsprites", path=path), "train").get_batch(np.arange(4))
  ft.write_dsprites(path, DSPRITES_SIZES, side=8, image_fn=lambda f: np.zeros((len(f), 8, 8)))
  again = gdata.load(data_cfg(name="dsprites", path=path), "train").get_batch(np.arange(4))
  assert first["x"].sum() > 0 and again["x"].sum() == 0

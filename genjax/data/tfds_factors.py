"""The field's TFDS builds with ground truth: dsprites, shapes3d, smallnorb (factors), celeb_a.

Each build's label features (read from its builder in tensorflow_datasets) map to factors in
disentanglement_lib's order: dsprites label_shape, label_scale, label_orientation,
label_x_position, label_y_position; shapes3d label_floor_hue, label_wall_hue,
label_object_hue, label_scale, label_shape, label_orientation; smallnorb label_category,
instance, label_elevation, label_azimuth, label_lighting (its 96 px images resized to
data.resolution; 'image2', the second camera, is not used). Factor values are the class
indices (affine in the true values of dsprites and shapes3d, so a linear probe's R^2 is the
same). TFDS stores records shuffled by key hash, so the map from factors to record keys is
built once, by reading every record's labels (images not decoded; about a minute for
dsprites), and cached under data.cache_dir. When the records form the full grid the source
is a FactorSource; dsprites and shapes3d hold it in TFDS 'train' (our train/test is a
seeded split of it, as for the authors' files), smallnorb across 'train' and 'test' (whose
object instances differ: our splits are TFDS's).

celeb_a has no class label: its 40 binary attributes become 40 two-valued categorical
factors (probes and traversal labels use them), but no grid, so metrics that draw images by
factors refuse it. Images are the centred 148 px square (of 178 x 218) resized to
data.resolution.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from genjax.core.dataset import DatasetInfo
from genjax.data import grid, records, tfds_source
from genjax.data.resize import resize_batch
from genjax.errors import DataError


@dataclasses.dataclass(frozen=True)
class Spec:
  """How one TFDS build maps to genjax records."""
  labels: tuple[str, ...] = ()  # label features, in factor order
  categorical: tuple[str, ...] = ()
  grid_splits: tuple[str, ...] = ("train",)  # the TFDS splits that together hold the grid
  binary: bool = False  # pixels are 0/1 (dsprites), not 0..255
  resize: bool = False  # fit to data.resolution
  crop: float = 0.0  # the centred square kept before resizing, as a share of the shorter side
  skip: tuple[str, ...] = ("image",)  # image features left undecoded while indexing


SPECS = {
    "dsprites": Spec(labels=("label_shape", "label_scale", "label_orientation",
                             "label_x_position", "label_y_position"),
                     categorical=("shape",), binary=True),
    "shapes3d": Spec(labels=("label_floor_hue", "label_wall_hue", "label_object_hue",
                             "label_scale", "label_shape", "label_orientation"),
                     categorical=("shape",)),
    "smallnorb": Spec(labels=("label_category", "instance", "label_elevation", "label_azimuth",
                              "label_lighting"),
                      categorical=("category", "instance"), grid_splits=("train", "test"),
                      resize=True, skip=("image", "image2")),
    "celeb_a": Spec(resize=True, crop=148 / 178),
}
ATTRIBUTES = "attributes"


def factor_name(feature: str) -> str:
  return feature.removeprefix("label_")


@dataclasses.dataclass(frozen=True)
class TfdsRecords:
  """A split of a TFDS build with factors: position i is record keys[i] of TFDS split
  split_ids[i]; x is fitted to the model, factors come from the labels."""

  info: DatasetInfo
  spec: Spec
  sources: tuple[Any, ...]  # one TFDS data source per split id
  split_ids: np.ndarray
  keys: np.ndarray
  factor_grid: grid.FactorGrid | None  # None for attribute data (celeb_a)
  flat: np.ndarray | None  # the grid cell of each position (grids only)
  where: np.ndarray | None  # [cells, 2] (split id, key) of every grid cell, -1 where absent
  res: int

  def __len__(self) -> int:
    return len(self.keys)

  def get_batch(self, indices_N: np.ndarray) -> dict[str, np.ndarray]:
    indices_N = np.asarray(indices_N)
    if self.factor_grid is not None:
      return self._cells(self.flat[indices_N])
    recs = self._read(self.split_ids[indices_N], self.keys[indices_N])
    factors = np.stack([[r[ATTRIBUTES][n] for n in self.info.factor_names] for r in recs])
    factors = factors.astype(np.int32).reshape(len(recs), -1)
    return {"x": self._x(recs), "factors": factors, "factor_values": factors.astype(np.float32)}

  def _cells(self, flat_N: np.ndarray) -> dict[str, np.ndarray]:
    recs = self._read(self.where[flat_N, 0], self.where[flat_N, 1])
    factors = self.factor_grid.factors_of(flat_N)
    return {"x": self._x(recs), "factors": factors, "factor_values": factors.astype(np.float32)}

  def _read(self, split_ids_N: np.ndarray, keys_N: np.ndarray) -> list[dict]:
    out: list[Any] = [None] * len(keys_N)
    for s in np.unique(split_ids_N):
      pos = np.flatnonzero(split_ids_N == s)
      for p, r in zip(pos, self.sources[s].__getitems__([int(k) for k in keys_N[pos]])):
        out[p] = r
    return out

  def _x(self, recs: list[dict]) -> np.ndarray:
    images = np.stack([r["image"] for r in recs])
    if images.ndim == 3:
      images = images[..., None]
    if self.spec.resize:
      crop = round(min(images.shape[1:3]) * self.spec.crop)
      images = resize_batch(images, self.res, crop)
    if self.spec.binary:
      return (images > 0).astype(np.float32)
    return images.astype(np.float32) * np.float32(1 / 255)


@dataclasses.dataclass(frozen=True)
class TfdsGrid(TfdsRecords):
  """A TFDS build whose records form the full factor grid: a FactorSource."""

  def get_by_factors(self, factors_NK: np.ndarray) -> dict[str, np.ndarray]:
    """Any cell of the whole grid, whatever the split holds."""
    return self._cells(self.factor_grid.flat_of(factors_NK))


def load(data_cfg, split: str):
  """The `split` of data.name = 'tfds:NAME' for NAME in SPECS, from data.data_dir.

  Args:
    data_cfg: the config's `data` section (uses name, data_dir, cache_dir, resolution,
      num_train, num_test).
    split: 'train' or 'test' (celeb_a: any of its TFDS splits).

  Returns:
    A TfdsGrid (FactorSource) when the records form the full grid, else TfdsRecords; both
    give x, factors and factor_values.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  # slow import

  full_name = str(data_cfg.name)
  name = full_name[len(tfds_source.PREFIX):]
  spec = SPECS[name]
  data_dir = str(data_cfg.data_dir) or None
  # The stored build's own features (a registered builder would report the code's).
  stored = tfds.builder_from_directory(str(tfds_source.open_builder(name, data_dir).data_dir))
  features = stored.info.features
  res = int(data_cfg.resolution)
  x_shape = _x_shape(full_name, features, spec, res)
  if not spec.labels:  # attributes (celeb_a)
    tfds_source.check_split(stored, name, split)
    names = tuple(features[ATTRIBUTES].keys())
    info = DatasetInfo(name=full_name, x_shape=x_shape, kind="image", factor_names=names,
                       factor_sizes=(2,) * len(names), categorical_factors=names, levels=255)
    source = stored.as_data_source(split=split)
    keys = np.arange(_limit(data_cfg, split, len(source), name))
    return TfdsRecords(info=info, spec=spec, sources=(source,),
                       split_ids=np.zeros(len(keys), np.int64), keys=keys, factor_grid=None,
                       flat=None, where=None, res=res)
  for s in spec.grid_splits:
    tfds_source.check_split(stored, name, s)
  missing = [f for f in spec.labels if f not in features]
  if missing:
    raise DataError(f"TFDS dataset '{name}' lacks the label features {missing}; rebuild it "
                    "with this tensorflow_datasets version")
  names = tuple(factor_name(f) for f in spec.labels)
  sizes = tuple(int(features[f].num_classes) for f in spec.labels)
  factor_grid = grid.FactorGrid(names, tuple(np.arange(s, dtype=np.float32) for s in sizes))
  sources = tuple(stored.as_data_source(split=s) for s in spec.grid_splits)
  where = _record_index(data_cfg, stored, spec, factor_grid, full_name)
  info = DatasetInfo(name=full_name, x_shape=x_shape, kind="image", binary=spec.binary,
                     factor_names=names, factor_sizes=sizes, categorical_factors=spec.categorical,
                     levels=0 if spec.binary else 255)
  present = np.flatnonzero(where[:, 0] >= 0)
  if len(spec.grid_splits) == 1:
    flat = grid.split_indices(len(present), split, int(data_cfg.num_train),
                              int(data_cfg.num_test))
    flat = present[flat]
  else:
    if split not in spec.grid_splits:
      raise DataError(f"TFDS dataset '{name}' has no split '{split}'; use "
                      f"{' or '.join(spec.grid_splits)}")
    cells = present[where[present, 0] == spec.grid_splits.index(split)]
    cells = cells[np.random.default_rng(grid.SPLIT_SEED).permutation(len(cells))]
    flat = cells[:_limit(data_cfg, split, len(cells), name)]
  fields = dict(info=info, spec=spec, sources=sources, split_ids=where[flat, 0],
                keys=where[flat, 1], factor_grid=factor_grid, flat=flat, where=where, res=res)
  # A partial build (e.g. a slice of the grid) still gives factors, but no FactorSource.
  return (TfdsGrid if len(present) == factor_grid.num_cells else TfdsRecords)(**fields)


def _limit(data_cfg, split: str, available: int, name: str) -> int:
  limit = int(data_cfg.num_train if split == "train" else data_cfg.num_test)
  if limit > available:
    key = "num_train" if split == "train" else "num_test"
    raise DataError(f"data.{key}={limit} exceeds the {available} examples of '{name}' {split}; "
                    f"lower data.{key} (0 = all)")
  return limit or available


def _x_shape(full_name: str, features, spec: Spec, res: int) -> tuple[int, int, int]:
  shape = tuple(features["image"].shape)
  if len(shape) == 2:
    shape += (1,)
  if spec.resize:
    return (res, res, shape[-1])
  if any(d is None for d in shape):
    raise DataError(f"TFDS dataset '{full_name}' has images of shape {shape}; genjax needs a "
                    "fixed [H, W, C]")
  return shape


def _record_index(data_cfg, stored, spec: Spec, factor_grid: grid.FactorGrid,
                  full_name: str) -> np.ndarray:
  """[cells, 2] int64: (split id, record key) of each grid cell, -1 where none; built once
  by reading every record's labels (images left encoded), then cached."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  skip = {f: tfds.decode.SkipDecoding() for f in spec.skip if f in stored.info.features}
  lengths = [stored.info.splits[s].num_examples for s in spec.grid_splits]

  def build():
    where = np.full((factor_grid.num_cells, 2), -1, np.int64)
    for s, split in enumerate(spec.grid_splits):
      source = stored.as_data_source(split=split, decoders=skip)
      for start in range(0, len(source), 4096):
        keys = list(range(start, min(start + 4096, len(source))))
        labels = np.asarray([[r[f] for f in spec.labels] for r in source.__getitems__(keys)])
        flat = factor_grid.flat_of(labels.astype(np.int64))
        if (where[flat, 0] >= 0).any() or len(np.unique(flat)) != len(flat):
          raise DataError(f"TFDS dataset '{full_name}' holds two records of one factor cell; "
                          "it is not a factor grid (rebuild it)")
        where[flat, 0], where[flat, 1] = s, keys
    yield where

  cache = records.cached_records(
      records.cache_dir(data_cfg),
      f"tfds-{full_name[len(tfds_source.PREFIX):]}-index-"
      f"{records.file_key(str(stored.data_dir), *lengths)}",
      (2,), np.int64, factor_grid.num_cells, build(), f"the record index of {full_name}")
  return cache.read_sorted(np.arange(factor_grid.num_cells))

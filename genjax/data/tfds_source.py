"""Any prepared TFDS image dataset, read from a local data_dir with `tfds.data_source`.

No TensorFlow and no download at run time: clusters hold prepared datasets (array_record or
parquet files), read by random access. Records map 'image' (uint8 [H, W, C]) to x = image / 255
(float32) and 'label' to label (int32). The builds with ground-truth factors or attributes
(dsprites, shapes3d, smallnorb, celeb_a) are read by tfds_factors.py, with this module's
checks (`open_builder`, `check_split`). tensorflow_datasets is imported only here, on use: its
import costs seconds that runs without TFDS data should not pay.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from genjax.core.dataset import DatasetInfo
from genjax.errors import DataError

PREFIX = "tfds:"
# Formats TFDS can read by random access; TFRecord (TFDS's default) needs TensorFlow.
_RANDOM_ACCESS_FORMATS = ("array_record", "parquet")


@dataclasses.dataclass(frozen=True)
class TfdsSource:
  """A TFDS split behind the genjax Source protocol; the first `length` records are used."""

  info: DatasetInfo
  data_source: Any  # tfds ArrayRecordDataSource / ParquetDataSource
  length: int

  def __len__(self) -> int:
    return self.length

  def get_batch(self, indices_N: np.ndarray) -> dict[str, np.ndarray]:
    # TFDS reads a whole list of keys at once (one array_record read, then per-record image
    # decoding); it wants Python ints, not a numpy array.
    keys = [int(i) for i in np.asarray(indices_N).reshape(-1)]
    records = self.data_source.__getitems__(keys)
    images = np.stack([r["image"] for r in records])
    if images.ndim == 3:  # a Tensor feature of shape [H, W]
      images = images[..., None]
    if images.dtype == np.uint8:
      x = images.astype(np.float32) * np.float32(1 / 255)
    else:
      x = images.astype(np.float32)
    batch = {"x": x}
    if self.info.num_classes:
      batch["label"] = np.asarray([r["label"] for r in records], dtype=np.int32)
    return batch


def load(data_cfg, split: str) -> TfdsSource:
  """The split `split` of the TFDS dataset `data_cfg.name` = 'tfds:NAME', from data_cfg.data_dir.

  Args:
    data_cfg: the config's `data` section (uses name, data_dir, num_train, num_test).
    split: a TFDS split name, normally 'train' or 'test'.

  Returns:
    A source of x [H, W, C] float32 in [0, 1] (and label int32 when the dataset has one).
  """
  import tensorflow_datasets as tfds  # slow import: only for TFDS runs

  name = str(data_cfg.name)[len(PREFIX):]
  data_dir = str(data_cfg.data_dir) or None
  builder = open_builder(name, data_dir)
  check_split(builder, name, split)
  info = _dataset_info(str(data_cfg.name), builder.info.features)
  source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
  limit = int(data_cfg.num_train if split == "train" else data_cfg.num_test)
  if limit > len(source):
    key = "num_train" if split == "train" else "num_test"
    raise DataError(f"data.{key}={limit} exceeds the {len(source)} examples of '{name}' "
                    f"{split}; lower data.{key} (0 = all)")
  return TfdsSource(info=info, data_source=source, length=limit or len(source))


def open_builder(name: str, data_dir: str | None):
  """The TFDS builder of a dataset prepared in a random-access format in `data_dir`.

  Args:
    name: the TFDS name, e.g. 'mnist'.
    data_dir: the TFDS data directory, or None for TFDS's default.

  Returns:
    The builder (registered, or read-only from the directory for unregistered names).

  Raises:
    DataError: the dataset is absent, unprepared or stored as TFRecord, in one line.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top  # slow import

  where = f"data.data_dir='{data_dir}'" if data_dir else "the default TFDS data_dir"
  fix = (f"prepare it on a machine with network (`tfds build {name} --file_format=array_record "
         f"--data_dir=DIR`) and copy DIR here, or point data.data_dir at a prepared copy")
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except Exception as e:  # TFDS raises DatasetNotFoundError, ValueError, ... per cause
    raise DataError(f"TFDS dataset '{name}' not found in {where} ({type(e).__name__}); "
                    f"{fix}") from e
  if not builder.is_prepared():
    raise DataError(f"TFDS dataset '{name}' is not prepared in {where}; {fix}")
  file_format = builder.info.file_format
  file_format = getattr(file_format, "value", file_format)
  if file_format not in _RANDOM_ACCESS_FORMATS:
    raise DataError(f"TFDS dataset '{name}' in {where} is stored as {file_format}, which needs "
                    f"TensorFlow to read; rebuild it with `tfds build {name} "
                    "--file_format=array_record`")
  return builder


def check_split(builder, name: str, split: str) -> None:
  if split not in builder.info.splits:
    raise DataError(f"TFDS dataset '{name}' has no split '{split}'; it has "
                    f"{', '.join(builder.info.splits)}")


def _dataset_info(full_name: str, features) -> DatasetInfo:
  """DatasetInfo from TFDS features: needs a fixed-shape 'image'; 'label' is optional."""
  if "image" not in features:
    raise DataError(f"TFDS dataset '{full_name}' has no 'image' feature (it has "
                    f"{', '.join(features)}); genjax reads image datasets only")
  shape = tuple(features["image"].shape)
  if len(shape) == 2:
    shape = shape + (1,)
  if len(shape) != 3 or any(d is None for d in shape):
    raise DataError(f"TFDS dataset '{full_name}' has images of shape {shape}; genjax needs a "
                    "fixed [H, W, C] (pick a resized variant of the dataset)")
  num_classes = 0
  if "label" in features:
    num_classes = int(getattr(features["label"], "num_classes", 0) or 0)
  return DatasetInfo(name=full_name, x_shape=shape, kind="image", binary=False,
                     num_classes=num_classes, levels=255)  # uint8 images / 255

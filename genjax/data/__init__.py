"""Datasets by name: `load(config.data, split)` returns a Source of dict records.

DATASETS lists the embedded datasets and those read from a file at `data.path` (dsprites,
shapes3d, mpi3d: the files their authors distribute; folder: a directory of images). A name
'tfds:NAME' reads a prepared TFDS dataset from `data.data_dir` (tensorflow_datasets is
imported only then, as its import is slow); the builds in tfds_factors.SPECS (dsprites,
shapes3d, smallnorb, celeb_a) map their label features to factors.
"""
from __future__ import annotations

import dataclasses
import difflib

from genjax.data import digits, dsprites, folder, mpi3d, rare, shapes3d, sprites, stacked_digits
from genjax.data import tfds_factors, tfds_source, toy2d, translation
from genjax.data.base import ArraySource, Source
from genjax.errors import DataError

DATASETS = {
    "sprites": sprites.load,
    "digits": digits.load,
    "stacked_digits": stacked_digits.load,
    "toy2d": toy2d.load,
    "paired_shapes": translation.load_paired,
    "unpaired_shapes": translation.load_unpaired,
    "dsprites": dsprites.load,
    "shapes3d": shapes3d.load,
    "mpi3d": mpi3d.load,
    "folder": folder.load,
}

__all__ = ["ArraySource", "DATASETS", "Source", "load"]


def load(data_cfg, split: str) -> Source:
  """The `split` ('train' or 'test') of the dataset named `data_cfg.name`.

  Args:
    data_cfg: the config's `data` section.
    split: 'train' or 'test'.

  Returns:
    A Source whose records hold `x` (and `label`, `factors`, `factor_values` where known),
    its `info.num_examples` the split's size.
  """
  name = str(data_cfg.name)
  if name.startswith(tfds_source.PREFIX):
    if name[len(tfds_source.PREFIX):] in tfds_factors.SPECS:
      loader = tfds_factors.load
    else:
      loader = tfds_source.load
  elif name in DATASETS:
    loader = DATASETS[name]
  else:
    close = difflib.get_close_matches(name, DATASETS, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise DataError(f"unknown dataset data.name='{name}'; {hint}known: "
                    f"{', '.join(DATASETS)}, or 'tfds:NAME' for a prepared TFDS dataset")
  source = rare.apply(data_cfg, split, loader(data_cfg, split))
  return dataclasses.replace(source, info=dataclasses.replace(source.info, num_examples=len(source)))

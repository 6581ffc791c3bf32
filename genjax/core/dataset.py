"""DatasetInfo: what a model and an evaluator need to know about a dataset's split.

Shapes, kind, grey levels, classes, ground-truth factors and the split's size. Models,
data and evaluators all read it, so it lives on the ground floor and imports nothing.
"""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """What a model and an evaluator need to know about one split of a dataset.

  Attributes:
    name: registry name, e.g. 'sprites'.
    x_shape: shape of one `x`, e.g. (64, 64, 1) or (2,).
    kind: 'image' or 'vector'.
    binary: True when every `x` value is 0 or 1 (a Bernoulli likelihood is exact).
    num_classes: number of `label` classes, 0 when there are no labels.
    factor_names: names of ground-truth factors (empty when there are none).
    factor_sizes: number of discrete values of each factor.
    categorical_factors: the factors whose values are unordered categories (a sprite's
      shape): a linear probe classifies these rather than regressing on their values.
    y_shape: shape of one `y`, the target domain of translation data; () when there is none.
    paired: True when each record's `y` is its `x`'s counterpart (pix2pix data), False when
      the domains are unpaired (CycleGAN data, whose test split holds the truth as `y_true`).
    levels: grey levels of `x`: every value is k / levels, k = 0..levels (digits: 16);
      0 when unknown or continuous. Binary data are on every grid whatever it says.
    num_examples: the number of records in the split this describes (`data.load` sets
      it), so a model that needs the training set's size never loads the data to count
      it; 0 when unknown.
  """
  name: str
  x_shape: tuple[int, ...]
  kind: str
  binary: bool = False
  num_classes: int = 0
  factor_names: tuple[str, ...] = ()
  factor_sizes: tuple[int, ...] = ()
  categorical_factors: tuple[str, ...] = ()
  y_shape: tuple[int, ...] = ()
  paired: bool = False
  levels: int = 0
  num_examples: int = 0

  def on_grid(self, levels: int) -> bool:
    """True when every `x` value is k / levels for an integer k in 0..levels."""
    if self.binary:
      return True
    return self.levels > 0 and levels % self.levels == 0

  @property
  def num_dims(self) -> int:
    return int(np.prod(self.x_shape))

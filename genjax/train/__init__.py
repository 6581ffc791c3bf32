"""The one training loop and what it needs: state, optimisers, checkpoints, devices, logs.

The package is also the Python API's entry point `genjax.train(config, workdir)`: a
function of that name could not live beside this package (importing any `genjax.train.*`
module rebinds the attribute `genjax.train` to the package), so the package itself is
callable and hands the call to `genjax.train.api.train`.
"""
import sys
import types


class _CallablePackage(types.ModuleType):
  """This package, callable as `genjax.train(config, workdir, overrides=None) -> Run`."""

  def __call__(self, config, workdir, overrides=None):
    """Trains `config` into `workdir` and loads the run; see `genjax.train.api.train`."""
    from genjax.train import api  # pylint: disable=g-import-not-at-top  # jax: on first use
    return api.train(config, workdir, overrides)


sys.modules[__name__].__class__ = _CallablePackage

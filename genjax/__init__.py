"""genjax: deep generative models in JAX/Flax with one experiment runner.

The Python API, loaded on first use so that `import genjax` (and the CLI) stays cheap:
`genjax.train(config, workdir)` trains and returns the run, `genjax.load(workdir)` opens
one (see `genjax.train.api`).
"""

__version__ = "0.1.0"

_API = ("load", "Run")


def __getattr__(name: str):
  """`genjax.train` (the callable training package), `genjax.load` and `genjax.Run`."""
  if name == "train":
    import genjax.train  # pylint: disable=g-import-not-at-top
    return genjax.train
  if name in _API:
    from genjax.train import api  # pylint: disable=g-import-not-at-top
    return getattr(api, name)
  raise AttributeError(f"module 'genjax' has no attribute {name!r}")


def __dir__() -> list[str]:
  return sorted(set(globals()) | {"train", *_API})

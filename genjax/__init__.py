"""genjax: deep generative models in JAX/Flax with one experiment runner."""

__version__ = "0.1.0"

"""The errors genjax reports to a user as one line (exit 2) instead of a traceback."""


class GenjaxError(Exception):
  """A problem with the user's input; its message names the problem and the fix."""


class ConfigError(GenjaxError):
  """A config key, type or value is wrong."""


class DataError(GenjaxError):
  """A dataset is unknown, missing or malformed."""


class CheckpointError(GenjaxError):
  """A run directory or checkpoint cannot be used with this config."""


class CapabilityError(GenjaxError):
  """A model family lacks what an evaluator or command needs (e.g. an encoder)."""


class TrainingDiverged(GenjaxError):
  """A loss or metric became NaN or Inf."""


class EvaluationFailed(GenjaxError):
  """One or more evaluators refused; `results` holds the numbers of those that finished."""

  def __init__(self, message: str, results: dict):
    super().__init__(message)
    self.results = results

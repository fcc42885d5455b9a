"""The registry's aliases (a module of its own so that reading them does not import MLflow)."""

CHALLENGER = "challenger"  # the best version of the last `register`
PRODUCTION = "production"  # the version a person promoted: what `recommend`, `serve` and `audience` answer with

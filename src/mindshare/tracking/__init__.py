"""MLflow: the tracking store, the pyfunc wrapper, the model registry and the promotion gate.

Models never import this package; it wraps them.
"""

"""Hyper-parameter tuning: search spaces from params.yaml and resumable Optuna studies logged to MLflow."""

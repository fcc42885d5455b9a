"""Load params.yaml once, typed and checked: the schema (mindshare.settings), then what only the
library knows (each model's hyper-parameters, each tuned name). Every stage, every command that
reads params.yaml (models, promote, rollback, recommend, audience, outcomes, compare, tune, serve,
download without --release, bench serve) and the server call `load_settings` first, so a bad config
stops them all alike: one line, exit 2."""

from __future__ import annotations

from pathlib import Path

from mindshare.layout import PARAMS
from mindshare.models import make_model
from mindshare.settings import Settings
from mindshare.tuning.settings import tune_settings


def load_settings(path: str | Path = PARAMS) -> Settings:
    return check_settings(Settings.from_yaml(path))


def check_settings(settings: Settings) -> Settings:
    """Every model's hyper-parameters are its family's; every tuned name is one of them."""
    for name in settings.models:
        make_model(name, settings.model_params_of(name))
    for name in settings.tune.families:
        if name in settings.models:
            tune_settings(settings, name)
    return settings

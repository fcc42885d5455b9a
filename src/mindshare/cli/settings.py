"""What commands read from params.yaml: the registered model's name, the gate's settings, the experiment."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mindshare.layout import PARAMS

if TYPE_CHECKING:
    from mindshare.settings import PromotionSettings


def registry_settings(args: argparse.Namespace) -> tuple[str, PromotionSettings]:
    """Registered model name and the promotion gate's settings: the flag, else params.yaml, else defaults."""
    from mindshare.settings import PromotionSettings, RegisterSettings

    register, gate = RegisterSettings(), PromotionSettings()
    if PARAMS.exists():
        from mindshare.project.params import load_settings

        settings = load_settings()
        register, gate = settings.register, settings.promotion
    return args.model_name or register.model_name, gate


def experiment_name(args: argparse.Namespace) -> str:
    """The MLflow experiment: --experiment, else the one params.yaml names (one line if there is none)."""
    if args.experiment:
        return args.experiment
    from mindshare.errors import MindshareError

    if not PARAMS.exists():
        raise MindshareError("no params.yaml here: run from the project folder or pass --experiment")
    from mindshare.project.params import load_settings

    return load_settings().experiment_name


def campaign_name(value: str) -> str:
    """--campaign's type: a name that is safe as a file name (argparse makes a refusal one line and exit 2)."""
    from mindshare.safe_text import CAMPAIGN_NAME_RULE, is_campaign_name

    if not is_campaign_name(value):
        raise argparse.ArgumentTypeError(f"campaign name {value!r} is not allowed: use {CAMPAIGN_NAME_RULE}")
    return value

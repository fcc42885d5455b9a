"""What the registry commands read from params.yaml: the registered model's name and the gate's settings."""

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
        from mindshare.stages.params import load_settings

        settings = load_settings()
        register, gate = settings.register, settings.promotion
    return args.model_name or register.model_name, gate

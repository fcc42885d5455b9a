"""Load params.yaml once, typed and checked: the schema (mindshare.settings), then what only the
library knows (each model's hyper-parameters, each tuned name). Every stage, every command that
reads params.yaml (models, promote, rollback, recommend, audience, outcomes, compare, tune, serve,
download without --release, bench serve) and the server call `load_settings` first, so a bad config
stops them all alike: one line, exit 2."""

from __future__ import annotations

from pathlib import Path

from mindshare.errors import MindshareError
from mindshare.layout import PARAMS
from mindshare.models import make_model
from mindshare.settings import Settings
from mindshare.spark.session import configure as configure_spark
from mindshare.tuning.settings import tune_settings


def load_settings(path: str | Path = PARAMS) -> Settings:
    settings = check_settings(Settings.from_yaml(path))
    configure_spark(settings.spark)  # a Spark session, if anything asks for one, starts with these settings
    return settings


def check_settings(settings: Settings) -> Settings:
    """Every model's hyper-parameters are its family's; every tuned name is one of them."""
    for name in settings.models:
        make_model(name, settings.model_params_of(name))
    for name in settings.tune.families:
        if name in settings.models:
            tune_settings(settings, name)
    if settings.engine == "spark" and settings.spark.driver_fit == "refuse":
        on_driver = [name for name in settings.models if not fits_on_spark(settings, name)]
        if on_driver:
            can = [name for name in dict.fromkeys([*settings.models, *settings.model_params])
                   if fits_on_spark(settings, name)]
            raise MindshareError(
                f"params.yaml: engine: spark has no Spark fit for {', '.join(on_driver)} in `models`; fit on Spark: "
                f"{', '.join(can) or 'a model of family svd with algorithm spark_als'}; or set spark.driver_fit: "
                "sample (a seeded sample of spark.driver_sample_users users) or all (every row, on the driver)")
    return settings


def fits_on_spark(settings: Settings, name: str) -> bool:
    """Whether model `name` of params.yaml is fitted on Spark's executors (the others fit on the driver)."""
    try:
        return make_model(name, settings.model_params_of(name)).fits_on_spark
    except MindshareError:  # a block of model_params that is not a model's (checked where it is used)
        return False



def set_challenger_share(share: float, path: str | Path = PARAMS) -> float | None:
    """Write `online.challenger_share` into params.yaml by editing that one line (its comment and the rest
    of the file untouched; a YAML round trip would reflow the whole file); returns the share it had
    (None if the file had none)."""
    import re

    import yaml

    from mindshare.atomic_files import write_text

    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    value = f"{share:g}"
    before = (yaml.safe_load("".join(lines)) or {}).get("online") or {}
    block = next((i for i, line in enumerate(lines) if re.match(r"online:\s*(#.*)?$", line)), None)
    if block is None:
        lines.append(f"\nonline:\n  challenger_share: {value}\n")
    else:
        end = next((i for i in range(block + 1, len(lines)) if re.match(r"\S", lines[i])), len(lines))
        for i in range(block + 1, end):
            found = re.match(r"(\s+challenger_share:\s*)(\S+)(.*)$", lines[i].rstrip("\n"))
            if found:
                old = found.group(2)
                lines[i] = found.group(1) + value.ljust(len(old)) + found.group(3) + "\n"
                break
        else:
            lines.insert(block + 1, f"  challenger_share: {value}\n")
    text = "".join(lines)
    if (yaml.safe_load(text).get("online") or {}).get("challenger_share") != share:  # pragma: no cover
        raise MindshareError(f"{path}: could not set online.challenger_share; edit it by hand")
    write_text(text, path)
    return before.get("challenger_share")

"""Reading what earlier stages wrote (by mindshare.layout): shared by the stages, the CLI and serving."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mindshare import layout
from mindshare.data.pseudonymise import pseudonym
from mindshare.data.repeats import EXCLUDE_SEEN, RepeatDecision
from mindshare.errors import MindshareError
from mindshare.evaluation.on_test import sample_test_users
from mindshare.features.item_text import item_documents
from mindshare.models import make_model, with_data_policy
from mindshare.models.block_ranking import ProcessRanking
from mindshare.project.params import fits_on_spark
from mindshare.settings import ColdStartSettings, Settings


def read_json(path: Path) -> dict:
    if not path.exists():
        raise MindshareError(f"{path}: not found; run `dvc repro` (or `make run`) first")
    return json.loads(path.read_text())


def read_table(path: Path, what: str) -> pd.DataFrame:
    """A Parquet or CSV output of the pipeline, or one line saying which stage makes it."""
    if not path.exists():
        raise MindshareError(f"{path}: not found; run `dvc repro` (or `make run`) first to build the {what}")
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def read_split(name: str, users: list[str] | None = None, columns: list[str] | None = None) -> pd.DataFrame:
    """A split prepare wrote (a file, or a folder from Spark); only the rows of `users` and the `columns` where
    given."""
    return pd.read_parquet(layout.split_path(name), filters=None if users is None else [("user_id", "in", users)],
                           columns=columns)


def fit_frame(include_valid: bool, users: list[str] | None = None) -> pd.DataFrame:
    """What the final models are fitted on: train, plus valid when `train.include_valid` (the rows of `users`
    alone where given)."""
    return pd.concat([read_split(name, users) for name in ("train", "valid")[:1 + include_valid]], ignore_index=True)


def driver_users(settings: Settings, model: str | None = None) -> list[str] | None:
    """With `engine: spark` and `spark.driver_fit: sample`, the seeded sample of users (drawn on Spark) whose rows
    `model` is tuned and fitted on when it has no Spark fit; with no `model`, the users evaluation scores when
    any model in `models` is fitted on the sample. Else None: every user."""
    if settings.engine != "spark" or settings.spark.driver_fit != "sample":
        return None
    if all(fits_on_spark(settings, name) for name in ([model] if model else settings.models)):
        return None
    from mindshare.spark.split import sampled_users

    return sampled_users([layout.split_path(name) for name in ("train", "valid", "test")],
                         settings.spark.driver_sample_users, settings.spark.driver_sample_seed)


def with_users(fingerprint: str, users: list[str] | None) -> str:
    """A split's fingerprint, naming also the sample of users its rows were restricted to (where they were): a
    study or an evaluation on other users is another one."""
    if users is None:
        return fingerprint
    import hashlib

    return f"{fingerprint}-users-{hashlib.sha256(chr(31).join(sorted(users)).encode()).hexdigest()[:12]}"


def users_table() -> pd.DataFrame | None:
    """Ingest's users (demographics, display names), None where it wrote none."""
    return pd.read_parquet(layout.USERS) if layout.USERS.exists() else None


def item_text() -> pd.Series | None:
    """Ingest's catalogue as one document per item_id (None where it has no text columns)."""
    return item_documents(read_table(layout.ITEMS, "item catalogue"))


def feature_tables() -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The user and item tables the features stage wrote, indexed by id (None where absent)."""
    users = pd.read_parquet(layout.USER_FEATURES).set_index("user_id") if layout.USER_FEATURES.exists() else None
    items = pd.read_parquet(layout.ITEM_FEATURES).set_index("item_id") if layout.ITEM_FEATURES.exists() else None
    return users, items


def segments() -> pd.Series | None:
    """Segment per user_id from the features stage (None where it has not run)."""
    return pd.read_parquet(layout.SEGMENTS).set_index("user_id")["segment"] if layout.SEGMENTS.exists() else None


def validation_data(settings: Settings, users: list[str] | None = None):
    """What every tuning trial sees: train (with feature tables built from train alone, item documents from the
    catalogue) and valid (a seeded sample of `tune.sample_users` valid users where there are more); the rows of
    `users` alone where given."""
    from mindshare.data.interactions import Interactions
    from mindshare.features.tables import build_feature_tables
    from mindshare.tuning.study import ValidationData  # Optuna loads for tune@ only

    train_frame, items = read_split("train", users), pd.read_parquet(layout.ITEMS)
    train = Interactions.from_frame(train_frame).with_features(
        *build_feature_tables(train_frame, items, settings.features, users_table())
    ).with_item_text(item_documents(items))
    valid = sample_test_users(read_split("valid", users), settings.tune.sample_users,
                              settings.tune.seed)
    return ValidationData(train, valid, items, settings.cold_start, repeat_decision().exclude_seen)


def model_params(settings: Settings, model: str) -> dict:
    """params.yaml's model_params.<model> with what the split protocol and prepare's repeat policy ask of the
    families that take them (models.with_data_policy): the re-rankers learn on windows of prepare.split.valid_days
    under the temporal protocol and rank the items people had where repeats are included."""
    holdout_days = settings.prepare.split.valid_days if settings.split_protocol == "temporal" else None
    return with_data_policy(model, settings.model_params_of(model), holdout_days, repeat_decision().include)


def not_applicable(settings: Settings, model: str) -> str | None:
    """Why `model` cannot learn from the prepared data (a rating-only family on implicit feedback), or None.
    tune@ and train@ then skip it with this one line, and evaluate notes it in the leaderboard."""
    import pyarrow.dataset as ds

    has_ratings = "rating" in ds.dataset(layout.split_path("train")).schema.names  # a file or a Spark dataset
    return make_model(model, settings.model_params_of(model)).not_applicable(has_ratings)


def ranked_by_engine(settings: Settings, model, model_file: Path):
    """`model` as evaluate and audience rank with it (models/block_ranking.py): its lists of many users at once
    ranked by Spark's executors (`engine: spark`) or by `local.rank_workers` processes of this machine."""
    if settings.engine == "spark":
        from mindshare.models.spark_ranking import SparkRanking

        return SparkRanking(model, model_file, settings.spark.rank_min_users)
    workers = settings.local.workers()
    return ProcessRanking(model, model_file, workers, settings.local.rank_min_users) if workers > 1 else model


def tuned(model: str) -> dict:
    """What tune@<model> wrote ({} where it has not run)."""
    path = layout.tuned_params_path(model)
    return json.loads(path.read_text()) if path.exists() else {}


def tuned_params(model: str) -> dict:
    """The best parameters tune@<model> found ({} where it has not run)."""
    return tuned(model).get("best_params") or {}


def cold_start_settings(settings: Settings, model: str) -> ColdStartSettings:
    """params.yaml `cold_start` with `segment_prior: auto` resolved to what tune@<model> chose."""
    return settings.cold_start.resolved((tuned(model).get("cold_start") or {}).get("segment_prior"))


def test_split(settings: Settings) -> tuple[pd.DataFrame, str]:
    """The test rows every model and the promotion gate are scored on, and their fingerprint: the test split
    restricted to `evaluate.sample_users` users, drawn from the users of `driver_users` where models are fitted on
    a sample. The fingerprint names each sample that dropped users, so the gate never compares figures measured
    on other people."""
    evaluate, users = settings.evaluate, driver_users(settings)
    split = read_split("test", users)
    test = sample_test_users(split, evaluate.sample_users, evaluate.sample_seed)
    fingerprint = with_users(split_fingerprints()["split_fingerprint"], users)
    if len(test) < len(split):
        fingerprint += f"-test-users-{evaluate.sample_users}-seed-{evaluate.sample_seed}"
    return test, fingerprint


def repeat_decision() -> RepeatDecision:
    """The repeat policy prepare decided (reports/prepare.json); seen items excluded where it recorded none."""
    recorded = read_json(layout.PREPARE_REPORT).get("repeat")
    return RepeatDecision.from_dict(recorded) if recorded else EXCLUDE_SEEN


def split_fingerprints() -> dict:
    """prepare's report: the data and split fingerprints (lineage of everything downstream)."""
    return read_json(layout.PREPARE_REPORT)


def campaign_history(settings: Settings, campaigns: list | None = None):
    """The fit data with its event log where a campaign (of `campaigns`, else params.yaml's) is a replenishment
    campaign, which scores who is due to re-buy from it; else None (nothing to read)."""
    if not any(c.kind == "replenish" for c in (settings.campaigns if campaigns is None else campaigns)):
        return None
    from mindshare.data.interactions import Interactions

    return Interactions.from_frame(fit_frame(settings.train.include_valid))


def known_test_split() -> pd.DataFrame:
    """The test split where prepare has run, else no rows (an audience then has no offline lift)."""
    path = layout.split_path("test")
    return pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=["user_id", "item_id"])


def user_profile(user_id: str, key: bytes) -> dict:
    """One person (raw id, hashed with `key`) as the features and audience stages see them: pseudonym,
    segment and its description, profile values, top recommendations."""
    user = pseudonym(user_id, key)
    profiles = read_table(layout.USER_FEATURES, "user profiles").set_index("user_id")
    if user not in profiles.index:
        raise MindshareError(f"user '{user_id}' is not in the training data (a new user gets the cold-start answer)")
    segment_of = read_table(layout.SEGMENTS, "segments").set_index("user_id")["segment"]
    described = read_table(layout.SEGMENT_SUMMARY, "segments").set_index("segment")["description"]
    recommendations = read_table(layout.RECOMMENDATIONS, "recommendations")
    mine = recommendations[recommendations["user_id"] == user].sort_values("rank")
    segment = int(segment_of.get(user, -1))
    return {"user_id": user_id, "pseudonym": user, "segment": segment,
            "segment_description": described.get(segment, ""),
            "profile": {k: round(float(v), 4) for k, v in profiles.loc[user].items()},
            "recommendations": mine[["rank", "item_id", "title"]].to_dict(orient="records")}

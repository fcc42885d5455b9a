"""Every file of the pipeline, named once: stages, CLI, serving and benches read and write these paths
(relative to the project folder, where `dvc repro` runs). `STAGES` lists each dvc.yaml stage's data
dependencies and outputs; a test keeps dvc.yaml in agreement with it.
"""

from __future__ import annotations

from pathlib import Path

PARAMS = Path("params.yaml")
RAW = Path("data/raw")  # downloaded releases

# ingest
INTERIM = Path("data/interim")
INTERACTIONS = INTERIM / "interactions.parquet"
ITEMS = INTERIM / "items.parquet"
USERS = INTERIM / "users.parquet"
INGEST_REPORT = Path("reports/ingest.json")
FEEDBACK = Path("data/feedback")  # people to forget, recorded campaign outcomes (read by ingest)
FORGET_LIST = FEEDBACK / "forget.txt"  # pseudonyms under the current key
FORGET_IDS = FEEDBACK / "forget_ids.txt"  # unkeyed erasure hashes of the raw ids: re-applied under any key
OUTCOMES = FEEDBACK / "outcomes"  # clicks and conversions of campaigns, as interactions
CAMPAIGN_RESULTS = FEEDBACK / "campaign_results"  # each audience member's group, outcomes and send-time features

# prepare
PROCESSED = Path("data/processed")
SPLITS = ("train", "valid", "test")
PREPARE_REPORT = Path("reports/prepare.json")

# features
FEATURES = Path("data/features")
USER_FEATURES = FEATURES / "users.parquet"
ITEM_FEATURES = FEATURES / "items.parquet"
SEGMENTS = FEATURES / "segments.parquet"
FEATURES_REPORT = Path("reports/features.json")
SEGMENT_SUMMARY = Path("reports/segments.csv")
PLOTS = Path("reports/plots")
SEGMENT_PLOTS = (PLOTS / "segments_projection.png", PLOTS / "segments_silhouette.png")

# tune@<model>, train@<model>
TUNING = Path("tuning")
TUNING_REPORTS = Path("reports/tuning")
OPTUNA_JOURNAL = Path(".optuna/studies.journal")
MODELS = Path("models")

# evaluate
REPORTS = Path("reports")
METRICS = REPORTS / "metrics.json"
LEADERBOARD_CSV = REPORTS / "leaderboard.csv"
LEADERBOARD_MD = REPORTS / "leaderboard.md"
EVALUATION = REPORTS / "evaluation.json"
IMPORTANCES = REPORTS / "importances"
PER_USER = REPORTS / "per_user_metrics.parquet"
BREAKDOWN = REPORTS / "breakdown.csv"
CURVES_PLOT = PLOTS / "precision_recall_at_k.png"
CURVE_TABLES = {"precision": PLOTS / "precision_at_k.csv", "recall": PLOTS / "recall_at_k.csv"}

# register
REGISTRY_REPORT = REPORTS / "registry.json"

# audience
RECOMMENDATIONS = Path("data/recommendations.parquet")
AUDIENCES = Path("data/audiences")
MESSAGES = Path("data/messages")
CAMPAIGN_SUMMARY = REPORTS / "campaigns.csv"
AUDIENCE_REPORT = REPORTS / "audience.json"

# online experiments (`mindshare serve` with a challenger share): append-only, pseudonyms only
ONLINE = Path("data/online")
EXPOSURES = ONLINE / "exposures"  # Parquet partitions by hour: date=YYYY-MM-DD/hour=HH/part-*.parquet
ONLINE_EVENTS = ONLINE / "events"  # clicks and conversions, the same partitioning
API_KEYS = Path(".mindshare/api_keys")  # one key per line (git-ignored with .mindshare/); or MINDSHARE_API_KEYS


def split_path(name: str) -> Path:
    """data/processed/<train|valid|test>.parquet"""
    return PROCESSED / f"{name}.parquet"


def tuned_params_path(model: str) -> Path:
    return TUNING / f"{model}.json"


def tuning_report_path(model: str) -> Path:
    return TUNING_REPORTS / f"{model}.json"


def model_dir(model: str) -> Path:
    return MODELS / model


def model_file(model: str) -> Path:
    return model_dir(model) / "model.pkl"


def fit_report(model: str) -> Path:
    return model_dir(model) / "fit.json"


def audience_file(campaign: str) -> Path:
    return AUDIENCES / f"{campaign}.csv"


def audience_people_file(campaign: str) -> Path:
    """The audience's members as they were when it was made: group, score and profile (for uplift learning)."""
    return AUDIENCES / f"{campaign}.people.parquet"


def campaign_results_file(campaign: str) -> Path:
    return CAMPAIGN_RESULTS / f"{campaign}.parquet"


# uplift: per campaign with results, the chosen learner and what it shows
UPLIFT_MODELS = Path("data/uplift")  # <campaign>.pkl and index.json (which campaigns have one)
UPLIFT_REPORTS = Path("reports/uplift")  # <campaign>_deciles.csv, <campaign>_qini.png
UPLIFT_REPORT = Path("reports/uplift.json")


def uplift_model_file(campaign: str) -> Path:
    return UPLIFT_MODELS / f"{campaign}.pkl"


MODEL = "${item}"  # a foreach stage's model name, as dvc.yaml writes it
# stage -> (data it reads, files it writes: outs, metrics and plots), as dvc.yaml declares them
STAGES: dict[str, tuple[list[Path], list[Path]]] = {
    "ingest": ([FEEDBACK], [INTERACTIONS, ITEMS, USERS, INGEST_REPORT]),
    "prepare": ([INTERACTIONS], [*map(split_path, SPLITS), PREPARE_REPORT]),
    "features": ([split_path("train"), split_path("valid"), ITEMS, USERS],
                 [USER_FEATURES, ITEM_FEATURES, SEGMENTS, SEGMENT_SUMMARY, *SEGMENT_PLOTS, FEATURES_REPORT]),
    # tune reads test too: the users of a driver sample are drawn from all three splits
    "tune": ([*map(split_path, SPLITS), ITEMS, USERS, PREPARE_REPORT],
             [tuned_params_path(MODEL), tuning_report_path(MODEL)]),
    "train": ([tuned_params_path(MODEL), *map(split_path, SPLITS), PREPARE_REPORT, USER_FEATURES, ITEM_FEATURES,
               ITEMS],
              [model_dir(MODEL)]),
    "evaluate": ([MODELS, TUNING, *map(split_path, SPLITS), ITEMS, USER_FEATURES, SEGMENTS, USERS, PREPARE_REPORT],
                 [EVALUATION, LEADERBOARD_CSV, LEADERBOARD_MD, CURVES_PLOT, IMPORTANCES, PER_USER, BREAKDOWN, METRICS,
                  *CURVE_TABLES.values()]),
    "register": ([EVALUATION], [REGISTRY_REPORT]),
    "uplift": ([FEEDBACK], [UPLIFT_MODELS, UPLIFT_REPORTS, UPLIFT_REPORT]),
    "audience": ([REGISTRY_REPORT, MODELS, TUNING, split_path("test"), ITEMS, USERS, USER_FEATURES, UPLIFT_MODELS,
                  PREPARE_REPORT],
                 [RECOMMENDATIONS, AUDIENCES, MESSAGES, CAMPAIGN_SUMMARY, AUDIENCE_REPORT]),
}

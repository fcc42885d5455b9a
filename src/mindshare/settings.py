"""One typed schema for the whole of params.yaml: every block, its types, ranges and defaults.

`Settings.from_yaml` checks a params file once: unknown keys anywhere are refused with the key
that was probably meant, wrong types and out-of-range values name the dotted key; every mistake is
one line (`MindshareError`, exit 2). Stages hand the typed blocks (`settings.cold_start`, ...) to
the library, which never reads params.yaml. `python -m mindshare.settings` writes the JSON Schema
(params.schema.json) that params.yaml points editors at.
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import jinja2
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from mindshare.errors import MindshareError, suggestion
from mindshare.layout import PARAMS
from mindshare.metrics.names import is_reported, metric_names
from mindshare.safe_text import CAMPAIGN_NAME_RULE, channel_format, is_campaign_name, render

SCHEMA_FILE = Path("params.schema.json")
MOVIELENS_RELEASES = ("100k", "1m", "10m", "20m", "25m", "32m", "latest-small", "latest")


def _whole_number(value: Any) -> Any:
    """5.0 is 5 (YAML writers and older model configs write whole numbers as floats); 5.5 stays refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _text(value: Any) -> Any:
    """Ids and names written as numbers (an item 1990, a campaign 2024) are text."""
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


Whole = Annotated[int, BeforeValidator(_whole_number), Field(strict=True)]
Count = Annotated[int, BeforeValidator(_whole_number), Field(strict=True, ge=1)]
NonNegativeWhole = Annotated[int, BeforeValidator(_whole_number), Field(strict=True, ge=0)]
NonNegative = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, lt=1)]
Number = int | float  # kept as written: an int stays an int (study names hash the values)
Text = Annotated[str, BeforeValidator(_text)]
Action = Literal["drop", "error"]


class Block(BaseModel):
    """A params.yaml mapping: unknown keys refused, values not coerced across types (no '5' for 5), and
    a key left empty (`promotion:` with nothing under it, a null) taking its default."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_is_default(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        return {key: value for key, value in values.items()
                if not (value is None and key in cls.model_fields and not cls.model_fields[key].is_required()
                        and cls.model_fields[key].default is not None)}


warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning)


# --- ingest ---------------------------------------------------------------------------------------
class CleaningRules(Block):
    """ingest.cleaning: what happens to each kind of messy row of an events export."""

    missing_user_id: Action = "drop"
    missing_item_id: Action = "drop"
    negative_quantity: Literal["drop", "keep", "error"] = "drop"  # returns and cancellations
    float_ids: Literal["repair", "keep"] = "repair"  # "17850.0" -> "17850"
    unparseable_timestamp: Literal["error", "drop"] = "error"
    unknown_event: Literal["error", "drop"] = "error"  # an event type that event_weights does not name


class SyntheticSettings(Block):
    """ingest.synthetic: the seeded generator (data/synthetic.py)."""

    n_users: Count = 1000
    n_items: Count = 400
    n_interactions: Count = 20_000
    n_categories: Count = 12
    n_factors: Count = 8
    candidates_per_draw: Count = 32
    taste_strength: NonNegative = 3.0  # how much taste beats popularity when a user picks an item
    start_timestamp: Whole = 1_600_000_000
    span_days: Count = 365
    seed: Whole = 0
    user_prefix: str = ""  # raw user ids are f"{user_prefix}{n}"
    # shop logs (every draw an event): re-purchases of staple items, each on its own cycle
    staple_share: Share = 0.3  # items people re-buy (the others are bought once)
    cycle_days: Annotated[float, Field(gt=0)] = 21.0  # a staple's median days between two purchases
    loyalty: Annotated[float, Field(gt=0, lt=1)] = 0.6  # mean chance that a customer buys a staple again


class IngestSettings(Block):
    source: Literal["movielens", "events", "synthetic"] = "movielens"
    path: str | None = None  # movielens: folder or zip; events: a CSV, TSV, Parquet or JSON lines file
    release: Literal[*MOVIELENS_RELEASES] | None = None  # `mindshare download` fetches it
    items_path: str | None = None
    users_path: str | None = None
    columns: dict[str, str] = {}  # canonical name -> the file's column
    item_columns: dict[str, str] = {}
    user_columns: dict[str, str] = {}
    timestamp_format: str | None = None  # null: seconds or ISO 8601; `mixed`; else strftime
    event_weights: dict[str, NonNegative] | None = None  # event type -> implicit-feedback weight (0 drops it)
    cleaning: CleaningRules = CleaningRules()
    rating_scale: tuple[float, float] | None = None  # ratings outside are refused; null: not checked
    dataset_name: str | None = None  # null: derived from the source and path
    synthetic: SyntheticSettings = SyntheticSettings()

    @field_validator("rating_scale", mode="before")
    @classmethod
    def _scale_pair(cls, value: Any) -> Any:
        if isinstance(value, list) and len(value) != 2:
            raise ValueError(f"ingest.rating_scale is {value}; give [low, high]")
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _path_given(self) -> "IngestSettings":
        if self.source != "synthetic" and not self.path:
            raise ValueError(f"ingest.path is needed for source '{self.source}'")
        if self.rating_scale and self.rating_scale[0] >= self.rating_scale[1]:
            raise ValueError(f"ingest.rating_scale is {list(self.rating_scale)}; give [low, high] with low < high")
        return self

    @property
    def name(self) -> str:
        """The data set's name (MLflow experiment, reports): dataset_name, else from source and path."""
        if self.dataset_name:
            return self.dataset_name
        if self.source == "synthetic":
            return f"synthetic-{self.synthetic.n_interactions}"
        stem = Path(str(self.path)).name
        for suffix in (".zip", ".csv", ".parquet", ".tsv"):
            stem = stem.removesuffix(suffix)
        return stem


# --- prepare --------------------------------------------------------------------------------------
SPLIT_PROTOCOLS = ("random_per_user", "leave_last_n", "global_time", "temporal", "holdout_users", "holdout_items")


class SplitSettings(Block):
    # auto: temporal for event logs (ingest.source events), random_per_user for ratings (movielens, synthetic)
    protocol: Literal["auto", *SPLIT_PROTOCOLS] = "auto"
    test_days: Count = 30  # temporal: the last days of the log are the test window
    valid_days: NonNegativeWhole = 30  # temporal: the days before the test window are the validation window
    holdout_given: NonNegativeWhole = 0
    test_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.2
    valid_ratio: Share = 0.1
    leave_last_n: Count = 1
    valid_last_n: NonNegativeWhole = 1
    seed: Whole = 42


class RepeatSettings(Block):
    """Items a person already had, as recommendations (re-purchases): excluded from every list, or allowed."""

    policy: Literal["auto", "include", "exclude"] = "auto"  # auto: include where the repeat share reaches min_share
    min_share: Annotated[float, Field(ge=0, le=1)] = 0.1  # of the fit data's (user, item, day), on a later day


class PrepareSettings(Block):
    min_user_interactions: Count = 1  # k-core filter (1 = off)
    min_item_interactions: Count = 1
    relevant_min_rating: float | None = None  # null: every test interaction is relevant
    split: SplitSettings = SplitSettings()
    repeat: RepeatSettings = RepeatSettings()


# --- features -------------------------------------------------------------------------------------
class SegmentSettings(Block):
    """features.segments: K-means on the standardised user profile, k by silhouette."""

    k_min: Annotated[int, BeforeValidator(_whole_number), Field(strict=True, ge=2)] = 2
    k_max: Annotated[int, BeforeValidator(_whole_number), Field(strict=True, ge=2)] = 8
    sample_size: Count = 5000  # users scored for the silhouette (seeded sample)
    minibatch_above: Count = 50_000  # users; above this MiniBatchKMeans
    seed: Whole = 0

    @model_validator(mode="after")
    def _k_range(self) -> "SegmentSettings":
        if self.k_min > self.k_max:
            raise ValueError(f"features.segments: k_min {self.k_min} > k_max {self.k_max}; give k_min <= k_max")
        return self


class FeatureSettings(Block):
    max_categories: NonNegativeWhole = 20  # the most frequent categories become columns
    max_tags: NonNegativeWhole = 20  # the most frequent tags become columns
    recent_days: Count = 30  # "recent popularity" window, back from the last training event
    rating_prior: NonNegative = 10.0  # pseudo-ratings shrinking an item's mean rating to the global mean
    segments: SegmentSettings = SegmentSettings()


# --- tuning ---------------------------------------------------------------------------------------
class SpaceDimension(Block):
    """One tuned hyper-parameter: {type: int|float, low, high, log, step} or {type: categorical, choices}."""

    type: Literal["int", "float", "categorical"]
    low: Number | None = None
    high: Number | None = None
    log: bool = False
    step: Number | None = None
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _range(self) -> "SpaceDimension":
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical range needs a non-empty 'choices' list")
            return self
        if self.low is None or self.high is None or self.low >= self.high:
            raise ValueError(f"give numbers low < high (got low={self.low!r}, high={self.high!r})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0 (got {self.low!r})")
        if self.type == "int" and (int(self.low) != self.low or int(self.high) != self.high):
            raise ValueError(f"an int range needs whole numbers (got {self.low!r}, {self.high!r})")
        return self


class TuneFamily(Block):
    n_trials: Count | None = None  # else tune.n_trials
    metric: str | None = None  # else tune.metric, else register.primary_metric
    space: dict[str, SpaceDimension] = {}


class TuneSettings(Block):
    n_trials: Count = 10  # finished trials per study (the first is the model_params values)
    timeout: Annotated[float, Field(gt=0)] | None = None  # seconds per study run
    seed: Whole = 0  # TPE sampler seed
    pruner: Literal["median", "successive_halving", "none"] = "median"
    storage: str | None = None  # null: .optuna/studies.journal; or a database URL
    metric: str | None = None  # null: register.primary_metric
    sample_users: Count | None = 20_000  # valid users a trial is scored on (a seeded sample above); null: all
    families: dict[str, TuneFamily | None] = {}  # an empty entry: nothing to search


# --- evaluation, cold start, registry, promotion ---------------------------------------------------
class TrainSettings(Block):
    include_valid: bool = True  # fit the final models on train + valid (valid is for tuning)


class EvaluateSettings(Block):
    ks: Annotated[list[Count], Field(min_length=1)] = [10]
    curve_max_k: Count = 50
    activity_buckets: list[Count] = [5, 20, 100]
    sample_users: Count | None = 20_000  # test users scored (a seeded sample above this); null: every test user
    sample_seed: Whole = 0

    @property
    def main_k(self) -> int:
        return max(self.ks)


DEFAULT_SEGMENT_PRIOR = 5.0  # `segment_prior: auto` where valid has too few users with little history


class ColdStartSettings(Block):
    """cold_start: one policy for evaluate, audiences and the served model (models/cold_start.py)."""

    max_interactions: NonNegativeWhole = 5  # at most this many: segment blend
    segment_prior: NonNegative | Literal["auto"] = "auto"  # segment weight prior / (prior + interactions)
    recent_prior: NonNegative = 10_000.0  # new users: pseudo-interactions of all-time popularity
    demographic_min_users: NonNegativeWhole = 20
    demographic_prior: NonNegative = 20.0  # pseudo-users of overall popularity in each group's
    new_item_slots: NonNegativeWhole = 1  # places of the k for new items

    def resolved(self, chosen: float | None = None) -> "ColdStartSettings":
        """`segment_prior: auto` made a number: the value tune@<model> chose on valid, else the default."""
        if self.segment_prior != "auto":
            return self
        return self.model_copy(update={"segment_prior": float(chosen if chosen is not None else DEFAULT_SEGMENT_PRIOR)})


class RegisterSettings(Block):
    model_name: Annotated[str, Field(min_length=1)] = "mindshare"
    primary_metric: str = "ndcg_at_10"  # picks the challenger; the promotion gate's metric


class PromotionSettings(Block):
    """promotion: the gate of `mindshare promote`. Drops are measured in each metric's better direction."""

    tolerance: NonNegative = 0.0  # the primary metric may be worse than production by at most this
    require_significant_lead: bool = False  # the candidate must beat production significantly (paired)
    guardrails: dict[str, NonNegative] = {}  # metric -> the largest drop allowed against production


# --- marketing ------------------------------------------------------------------------------------
class AudienceSettings(Block):
    top_n: Count = 10  # recommendations per user in data/recommendations.parquet
    pool: Count = 200  # a user's top-N list in which a campaign's items are looked for
    activity_weight: NonNegative = 1.0  # score = affinity x activity ** this
    frequency_cap: Count = 1  # a user is in at most this many audiences
    suppression_path: str | None = None  # raw user ids who opted out
    seed: Whole = 0  # control groups


EXAMPLE_MESSAGE = {"user_id": "0" * 20, "name": None, "campaign": "x", "channel": "email",
                   "reason": "because you liked A and B", "reason_items": ["A", "B"], "top_items": ["C", "D"]}


class CampaignSettings(Block):
    name: Annotated[Text, Field(min_length=1)]  # a file name too: letters, digits, '.', '_', '-'
    # recommend: the people whose lists rank the items highest; replenish: those due to re-buy them
    kind: Literal["recommend", "replenish"] = "recommend"
    items: list[Text] = []
    categories: list[Text] = []
    budget: Count  # users, control group included
    min_score: float = 0.0
    channel: Annotated[str, Field(min_length=1)] = "email"  # email | sms | push | web | in_app, or your own
    control_share: Share = 0.1
    template: str = "{{ reason }}: {{ top_items | join(', ') }}"
    # whom to send to: score (the recommender's affinity x activity), uplift (the people the message changes most, by
    # the campaign's uplift model: `mindshare outcomes` then `dvc repro`; by score until it has one), or
    # incremental_value (uplift x value_per_conversion - cost_per_contact > 0, the most first)
    target: Literal["score", "uplift", "incremental_value"] = "score"
    value_per_conversion: NonNegative = 1.0
    cost_per_contact: NonNegative = 0.0
    # how values are escaped: null: the channel's default (email, sms, push: text; web, in_app: html); html:
    # HTML-escaped; text: control characters removed. A channel of your own needs one.
    format: Literal["text", "html"] | None = None

    @property
    def message_format(self) -> str:
        """What the messages are escaped for: `format`, or the channel's default (safe_text.CHANNEL_FORMATS)."""
        return channel_format(self.channel, self.format)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not is_campaign_name(value):
            raise ValueError(f"campaign name {value!r} is not allowed: use {CAMPAIGN_NAME_RULE}")
        return value

    @field_validator("template", mode="before")
    @classmethod
    def _default_template(cls, value: Any) -> Any:
        return value or cls.model_fields["template"].default

    @model_validator(mode="after")
    def _targets(self) -> "CampaignSettings":
        if not self.items and not self.categories:
            raise ValueError("give target items or categories")
        try:  # rendered once on an example: a mistake in the template stops before any data is read
            render(self.template, self.message_format, EXAMPLE_MESSAGE)
        except jinja2.TemplateError as error:
            raise ValueError(f"template error: {error}; fields: {', '.join(EXAMPLE_MESSAGE)}") from None
        return self


class UpliftSettings(Block):
    """The uplift stage: per campaign with recorded outcomes, learners of who buys because of the message, tuned on
    the cross-fitted Qini AUC (mindshare/uplift)."""

    outcome: Literal["converted", "value"] = "converted"  # what the message should change
    learners: list[Literal["s_learner", "t_learner", "x_learner", "class_transformation"]] = [
        "s_learner", "t_learner", "x_learner", "class_transformation"]
    n_trials: Count = 6  # Optuna trials per learner (the first: its defaults)
    folds: Annotated[int, Field(ge=2)] = 3  # cross-fitting folds
    max_tuning_people: Count = 50_000  # the studies score a stratified sample of this many people at most
    min_people_per_group: Count = 100  # a campaign with fewer treated or control people with results is skipped
    seed: Whole = 0


class OnlineSettings(Block):
    """Champion / challenger traffic in `mindshare serve`, its exposure log and the sequential test that
    decides `mindshare promote --online`. Read again on every reload: share, method and salt change
    without a restart."""

    challenger_share: Share = 0.0  # the share of users on @challenger (ab) or interleaved (interleaving); 0: off
    method: Literal["ab", "interleaving"] = "ab"
    salt: Annotated[str, Field(min_length=1)] = "mindshare-online"  # a new salt re-draws every user's arm
    metric: Literal["ctr", "conversion", "value"] = "ctr"  # what the sequential test and promote --online judge
    attribution_hours: Annotated[float, Field(gt=0)] = 24.0  # an event counts for answers shown this long before it
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05  # false verdicts however often one looks (always valid)
    log_flush_seconds: Annotated[float, Field(gt=0)] = 1.0  # the exposure log is written off the request path
    log_flush_records: Count = 1000  # in batches of at most this many records
    log_max_queued_records: Count = 100_000  # beyond this the logs drop records (counted in /health), never block
    retention_days: Annotated[float, Field(gt=0)] = 90.0  # hours of the logs older than this are deleted


class LocalSettings(Block):
    """local: how `engine: local` uses this machine's cores where one process would leave them idle. evaluate and
    audience rank lists of `rank_min_users` users or more in blocks over `rank_workers` processes, each opening the
    model file once (one more copy of the model in memory each); the lists are the model's own."""

    rank_workers: Count | Literal["auto"] = "auto"  # auto: the cores this process may use; 1: in the stage's process
    rank_min_users: Count = 2_000

    def workers(self) -> int:
        if self.rank_workers != "auto":
            return self.rank_workers
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class SparkSettings(Block):
    """spark: the session that `engine: spark` runs on (mindshare.spark.session). `remote` (a Spark Connect URL,
    sc://host:15002, or local[N]: a Spark Connect server started here) wins over `master`; on a cluster, executor
    settings go in `conf`."""

    master: Annotated[str, Field(min_length=1)] = "local[*]"
    remote: str | None = None
    app_name: Annotated[str, Field(min_length=1)] = "mindshare"
    driver_memory: Annotated[str, Field(pattern=r"^[0-9]+[kmgt]?$")] = "4g"  # as spark.driver.memory
    shuffle_partitions: Count = 8  # spark.sql.shuffle.partitions (Spark's 200 is for clusters)
    conf: dict[str, Text] = {}  # any other spark.* setting, e.g. spark.executor.memory: 8g
    # the families without a fit on Spark (all but svd's spark_als): refuse: say so; sample: fit them on a seeded
    # sample of driver_sample_users users (evaluation then scores those users); all: every row, on the driver
    driver_fit: Literal["refuse", "sample", "all"] = "refuse"
    driver_sample_users: Count = 100_000
    driver_sample_seed: Whole = 0
    rank_min_users: Count = 2_000  # evaluate and audience rank this many users or more at once on the executors


class MlflowSettings(Block):
    experiment: str | None = None  # null: mindshare-<dataset name>


class Settings(Block):
    """The whole of params.yaml. (Its `register` block shadows BaseModel.register, an ABC helper never used here.)"""

    ingest: IngestSettings
    engine: Literal["local", "spark"] = "local"  # spark: the stages whose cost grows with events run on Spark
    local: LocalSettings = LocalSettings()
    spark: SparkSettings = SparkSettings()
    prepare: PrepareSettings = PrepareSettings()
    features: FeatureSettings = FeatureSettings()
    models: Annotated[list[str], Field(min_length=1)]
    model_params: dict[str, dict[str, Any] | None] = {}  # per model: its family's hyper-parameters (checked there)
    tune: TuneSettings = TuneSettings()
    train: TrainSettings = TrainSettings()
    evaluate: EvaluateSettings = EvaluateSettings()
    cold_start: ColdStartSettings = ColdStartSettings()
    register: RegisterSettings = RegisterSettings()
    promotion: PromotionSettings = PromotionSettings()
    audience: AudienceSettings = AudienceSettings()
    campaigns: list[CampaignSettings] = []
    uplift: UpliftSettings = UpliftSettings()
    online: OnlineSettings = OnlineSettings()
    mlflow: MlflowSettings = MlflowSettings()

    @model_validator(mode="after")
    def _names(self) -> "Settings":
        """Metric names and the models named in per-model blocks must exist (a typo is not a new name)."""
        known = metric_names(self.evaluate.ks)
        for where, metric in [("register.primary_metric", self.register.primary_metric),
                              ("tune.metric", self.tune.metric),
                              *((f"tune.families.{m}.metric", f.metric) for m, f in self.tune.families.items() if f),
                              *((f"promotion.guardrails.{m}", m) for m in self.promotion.guardrails)]:
            if metric is not None and not is_reported(metric, self.evaluate.ks):
                raise ValueError(f"{where}: '{metric}' is not a metric evaluation reports{suggestion(metric, known)}")
        if len(set(self.models)) != len(self.models):
            raise ValueError("models: a name appears twice")
        named = set(self.models) | set(self.model_params)
        for model in self.tune.families:
            if model not in named:
                raise ValueError(f"unknown key 'tune.families.{model}': not a model in 'models' or "
                                 f"'model_params'{suggestion(model, sorted(named))}")
        names = [c.name for c in self.campaigns]
        if len(set(names)) != len(names):
            raise ValueError("campaigns: names must be unique")
        return self

    @property
    def split_protocol(self) -> str:
        """prepare.split.protocol with `auto` resolved: a forward-in-time cut for event logs (a shop's question is
        what each customer does next), the per-user split for ratings logs (MovieLens and the synthetic ratings
        source: comparable with published work)."""
        protocol = self.prepare.split.protocol
        if protocol != "auto":
            return protocol
        return "temporal" if self.ingest.source == "events" else "random_per_user"

    @property
    def experiment_name(self) -> str:
        return self.mlflow.experiment or f"mindshare-{self.ingest.name}"

    def model_params_of(self, model: str) -> dict[str, Any]:
        return dict(self.model_params.get(model) or {})

    @classmethod
    def from_yaml(cls, path: str | Path = PARAMS) -> "Settings":
        path = Path(path)
        if not path.exists():
            raise MindshareError(f"{path}: not found; run from the project folder")
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f", line {mark.line + 1}" if mark else ""
            raise MindshareError(f"{path}{where}: not valid YAML; fix the syntax") from None
        return cls.checked(values, str(path))

    @classmethod
    def checked(cls, values: Any, source: str = "params.yaml") -> "Settings":
        if not isinstance(values, dict):
            raise MindshareError(f"{source}: the file must be a mapping of sections (ingest:, prepare:, ...)")
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise MindshareError(f"{source}: {describe_error(error, cls)}{_campaign_named(error, values)}") from None


def _campaign_named(error: ValidationError, values: dict) -> str:
    """' (campaign NAME)' where the first mistake is inside a campaign: people know campaigns by name."""
    location = error.errors(include_url=False)[0]["loc"]
    campaigns = values.get("campaigns")
    if len(location) > 1 and location[0] == "campaigns" and isinstance(campaigns, list) \
            and isinstance(location[1], int) and location[1] < len(campaigns):
        entry = campaigns[location[1]]
        if isinstance(entry, dict) and entry.get("name"):
            return f" (campaign '{entry['name']}')"
    return ""


def checked_block(block: type[Block], values: Any, where: str) -> Block:
    """One block from values given elsewhere (a CLI flag), checked like params.yaml's."""
    try:
        return block.model_validate(values or {})
    except ValidationError as error:
        raise MindshareError(f"{where}: {describe_error(error, block)}") from None


def describe_error(error: ValidationError, root: type[BaseModel]) -> str:
    """The first mistake as one line: the dotted key, what is wrong, the likely fix."""
    errors = error.errors(include_url=False)
    first = errors[0]
    location = _path(first["loc"])
    dotted = ".".join(location).replace(".[", "[")
    if first["type"] == "extra_forbidden":
        allowed = _keys_at(root, location[:-1])
        return f"unknown key '{dotted}'{suggestion(location[-1], allowed)}"
    if first["type"] == "missing":
        return f"'{dotted}' is missing; add it (see the README's params section)"
    if first["type"] in ("value_error", "assertion_error"):
        message = first["msg"].removeprefix("Value error, ")
        return message if not dotted or message.startswith(dotted) else f"{dotted}: {message}"
    # a value that may be one of several types fails once per type: say them all
    messages = list(dict.fromkeys(e["msg"] for e in errors if _path(e["loc"]) == location))
    message = " or ".join(m[0].lower() + m[1:] for m in messages)
    value = first.get("input")
    shown = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return f"{dotted} is {shown}; {message}"


UNION_MEMBER = re.compile(r"^(constrained-)?(float|int|str|bool)$|^(literal|list|dict|tuple|function-[a-z]+)\[")


def _path(location: tuple) -> list[str]:
    """A pydantic error location as params.yaml keys: list positions as [i], union member tags dropped."""
    return [f"[{part}]" if isinstance(part, int) else str(part) for part in location
            if isinstance(part, int) or not UNION_MEMBER.match(str(part))]


def _keys_at(root: type[BaseModel], location: list[str]) -> list[str]:
    """The keys allowed in the mapping at `location` (for suggestions); [] where unknown."""
    model: Any = root
    for part in location:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(part)
        if field is None:  # a list index or a dict key (tune.families.<model>): step into the item type
            continue
        model = _model_in(field.annotation)
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside `X`, `X | None`, `list[X]` or `dict[str, X]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of params.yaml (editors complete and check keys with it)."""
    schema = Settings.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mindshare params.yaml"
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # python -m mindshare.settings [FILE]: write the JSON Schema
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_FILE
    target.write_text(schema_text(), encoding="utf-8")
    print(f"{target}: written")

"""ingest on Spark for an events export: a CSV, TSV or JSON-lines file, a Parquet file or a Parquet dataset
folder, read by Spark, through the local engine's own cleaning rules, schema checks and pseudonyms.

Each Arrow batch of a Spark partition goes through `clean_events` and `canonical_interactions` (one definition
of every rule, so both engines keep and drop the same rows and count the drops by the same reasons) and the
local engine's `pseudonymise` with the same key. A refusal names the file, the Spark partition and the row within
it (a distributed read has no file lines). The catalogue (items file) and the users file stay small and are
read on the driver as the local engine reads them. Not on Spark: item attributes carried on the log's rows
(give `ingest.items_path`) and the MovieLens and synthetic sources (read on the driver, then written here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from mindshare.data.cleaning import clean_events
from mindshare.data.events import checked_column_map
from mindshare.data.pseudonymise import ERASURE_PREFIX, pseudonymise
from mindshare.data.schema import (
    ITEM_ATTRIBUTE_COLUMNS,
    NUMERIC_INTERACTION_COLUMNS,
    TEXT_INTERACTION_COLUMNS,
    RawTable,
    canonical_interactions,
)
from mindshare.errors import MindshareError
from mindshare.settings import IngestSettings
from mindshare.spark.prepare import dataset_summary, fingerprint_of, rows_hash_sum, write_dataset
from mindshare.spark.pseudonyms import pseudonymised
from mindshare.spark.session import active_session

DROPPED, REPAIRED, ROWS = "_dropped", "_repaired", "_rows"  # a marker row: a reason and how many rows it counts


def read_events(path: str | Path, columns: dict[str, str] | None):
    """The export as a Spark frame with canonical column names; columns keep the types the file gives them (a CSV's
    are text), as the local reader's do, so the same cleaning code sees the same values. Malformed lines stop the
    read (as they stop the local reader) instead of becoming empty rows."""
    spark, path = active_session(), Path(path)
    columns = checked_column_map(columns)
    if not path.exists():
        raise MindshareError(f"{path}: no such file; set ingest.path in params.yaml")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in (".parquet", ".pq"):
        frame = spark.read.parquet(str(path.resolve()))
    elif suffix in (".jsonl", ".ndjson", ".json"):
        frame = spark.read.json(str(path.resolve()), mode="FAILFAST")
    else:  # RFC 4180 quotes ("" inside a quoted field) as pandas reads them
        frame = spark.read.csv(str(path.resolve()), header=True, sep="\t" if suffix in (".tsv", ".tab") else ",",
                               ignoreLeadingWhiteSpace=True, inferSchema=False, escape='"', mode="FAILFAST")
    rename = {file_name: canonical for canonical, file_name in columns.items()}
    return frame.select([frame[c].alias(rename.get(c.strip(), c.strip())) for c in frame.columns]), \
        suffix in (".csv", ".tsv", ".tab", ".txt") and not path.is_dir()


def missing_texts() -> list[str]:
    """The texts pandas' CSV reader reads as missing ('', 'NA', 'N/A', 'NULL', 'nan', ...): a CSV read by Spark keeps
    them as text, so each batch turns them into missing values as the local reader would have."""
    try:
        from pandas._libs.parsers import STR_NA_VALUES  # pandas' own list (keep_default_na)
    except ImportError:  # pragma: no cover - pandas moved it
        STR_NA_VALUES = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                         "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
    return sorted(STR_NA_VALUES)


def output_schema(raw_columns: list[str], ingest: IngestSettings) -> str:
    """The columns `canonical_interactions` returns for these raw columns, in its order, with `weight` last where
    event_weights add it (as the local engine adds it), and the marker columns."""
    fields = ["user_id string", "item_id string", "timestamp long"]
    fields += [f"{c} double" for c in NUMERIC_INTERACTION_COLUMNS if c in raw_columns]
    fields += [f"{c} string" for c in TEXT_INTERACTION_COLUMNS if c in raw_columns]
    if ingest.event_weights and "weight" not in raw_columns:
        fields.append("weight double")
    return ", ".join(fields + [f"{DROPPED} string", f"{REPAIRED} string", f"{ROWS} long"])


def cleaned_batches(ingest: IngestSettings, source: str, names: list[str], from_text: bool):
    """The mapInPandas function: each batch cleaned and checked by the local engine's functions; what was dropped
    or repaired comes out as marker rows (a reason and a count) after the kept rows. `from_text`: a CSV's batch,
    whose texts that pandas reads as missing become missing first."""
    weights = dict(ingest.event_weights) if ingest.event_weights else None
    missing = missing_texts() if from_text else []

    def clean(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from pyspark import TaskContext

        partition, offset = TaskContext.get().partitionId(), 0
        for batch in batches:
            batch.index = np.arange(offset, offset + len(batch))
            offset += len(batch)
            if missing:
                batch = batch.astype(object).where(~batch.isin(missing), None)
            table = RawTable(batch, f"{source} (Spark partition {partition})", first_line=1, unit="row")
            kept, report = clean_events(table, ingest.cleaning, ingest.timestamp_format, weights)
            if len(kept.frame):
                out = canonical_interactions(kept, ingest.rating_scale, ingest.timestamp_format)
                if weights:
                    out["weight"] = out["event"].map(weights).astype("float64")
                out = out.reindex(columns=names)
                for marker in (DROPPED, REPAIRED):  # all-NaN floats do not convert to text
                    out[marker] = pd.Series([None] * len(out), dtype=object, index=out.index)
                yield as_objects(out)
            markers = [(reason, None, n) for reason, n in report.dropped.items()]
            markers += [(None, reason, n) for reason, n in report.repaired.items()]
            if markers:
                marked = {name: pd.Series([None] * len(markers), dtype=object) for name in names}
                marked.update({DROPPED: [m[0] for m in markers], REPAIRED: [m[1] for m in markers],
                               ROWS: pd.Series([m[2] for m in markers], dtype="int64")})
                yield as_objects(pd.DataFrame(marked)[names])

    return clean


def as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Python objects: pyspark's Arrow conversion does not take pandas 3's Arrow-backed strings."""
    return frame.astype({c: object for c in frame.columns if pd.api.types.is_string_dtype(frame[c].dtype)})


def ingest_on_spark(ingest: IngestSettings, key: bytes, forgotten: set[str],
                    outcomes: Callable[[list[str], float | None], pd.DataFrame], output: Path,
                    erasure_hashes: set[str] = frozenset()) -> dict:
    """Read, clean, check and pseudonymise the export; drop the forgotten people's rows and add the recorded
    campaign outcomes (`outcomes(columns, top rating)`, pseudonymous already); write the Parquet dataset
    `output`. Returns the drops and repairs by reason, the rows erased and added, the export's rows per item
    (before the forget list and the outcomes: what the catalogue is completed from, as locally), the rows, users
    and items written, and a fingerprint of the canonical rows before pseudonymisation (whatever their order)."""
    from pyspark.sql import functions as F

    spark = active_session()
    raw, from_text = read_events(ingest.path, ingest.columns)
    carried = [c for c in ITEM_ATTRIBUTE_COLUMNS if c in raw.columns]
    if carried and not ingest.items_path:
        raise MindshareError(f"{ingest.path}: the log carries item attributes ({', '.join(carried)}); on engine: spark "
                             f"give them as ingest.items_path (one row per item), or use engine: local")
    try:
        if raw.limit(1).count() == 0:
            raise MindshareError(f"{ingest.path}: the file has a header but no rows; give at least one row")
        schema = output_schema(raw.columns, ingest)
        names = [field.split(" ")[0] for field in schema.split(", ")]
        marked = raw.drop(*carried).mapInPandas(cleaned_batches(ingest, str(ingest.path), names, from_text), schema) \
            .localCheckpoint()
    except MindshareError:
        raise
    except Exception as error:  # a refusal inside a Spark task arrives wrapped in Spark's own exception
        raise refusal_from(error, ingest.path) from None
    counts = marked.where(F.col(ROWS).isNotNull()).groupBy(DROPPED, REPAIRED).agg(F.sum(ROWS).alias("n")).collect()
    canonical = marked.where(F.col(ROWS).isNull()).drop(DROPPED, REPAIRED, ROWS)
    top = [F.max("rating").alias("top")] if "rating" in canonical.columns else [F.lit(None).alias("top")]
    facts = canonical.agg(*top, F.count("*").alias("rows"), rows_hash_sum(canonical).alias("hash")).first()
    top_rating = ingest.rating_scale[1] if ingest.rating_scale else (None if facts["top"] is None else
                                                                       float(facts["top"]))
    source_item_rows = canonical.groupBy("item_id").count().toPandas().set_index("item_id")["count"]
    if erasure_hashes:  # people forgotten under any key, found by their raw ids (data/pseudonymise.erasure_hash)
        digest = F.sha2(F.concat(F.lit(ERASURE_PREFIX.decode()), F.col("user_id")), 256)
        matched = canonical.select("user_id").distinct().where(digest.isin(sorted(erasure_hashes))).toPandas()
        forgotten = set(forgotten) | set(pseudonymise(matched["user_id"].astype(str), key))
    pseudonymous = pseudonymised(canonical, key)
    kept = pseudonymous.where(~F.col("user_id").isin(sorted(forgotten))) if forgotten else pseudonymous
    added = outcomes(canonical.columns, top_rating)
    added = added[~added["user_id"].isin(forgotten)]
    if len(added):
        kept = kept.unionByName(spark.createDataFrame(added[canonical.columns], schema=kept.schema))
    write_dataset(kept, output)
    totals = dataset_summary(spark.read.parquet(str(Path(output).resolve())))
    erased = int(facts["rows"]) - (totals["rows"] - len(added))  # counted from what was written: no second pass
    return {"dropped": {r[DROPPED]: int(r["n"]) for r in counts if r[DROPPED]},
            "repaired": {r[REPAIRED]: int(r["n"]) for r in counts if r[REPAIRED]},
            "erased": erased, "outcome_rows": len(added), "source_item_rows": source_item_rows,
            **{k: totals[k] for k in ("rows", "users", "items")},
            "fingerprint": fingerprint_of(canonical.columns, facts["hash"])}


def refusal_from(error: Exception, path) -> Exception:
    """The one-line MindshareError a Spark task raised, out of Spark's wrapping; a line Spark could not parse as
    one too; other errors as they are."""
    text = str(error)
    marker = "MindshareError: "
    if "MALFORMED_RECORD" in text or "Malformed" in text:
        return MindshareError(f"{path}: a malformed line (a field count or quoting that does not parse); fix or "
                              f"remove it (Spark: {text.strip().splitlines()[0][:200]})")
    if marker not in text:
        return error
    return MindshareError(text.split(marker, 1)[1].strip().splitlines()[0])

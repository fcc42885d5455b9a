"""The `engine: spark` path: a Spark session from params.yaml `spark`, and the Spark versions of the parts whose
cost grows with events (ingest with its cleaning and pseudonyms, the split, the feature aggregates and segments,
ALS). pyspark is the optional extra `.[spark]`; nothing here imports it unless a setting asks for Spark."""

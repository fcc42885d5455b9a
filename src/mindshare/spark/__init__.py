"""The `engine: spark` path: a Spark session from params.yaml `spark`, and the Spark versions of the parts whose
cost grows with events (pseudonyms, split, ALS). pyspark is the optional extra `.[spark]`; nothing here is
imported unless a setting asks for Spark."""

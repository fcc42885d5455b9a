"""Data: the canonical schema, sources, pseudonymisation, splits and the Interactions matrix."""

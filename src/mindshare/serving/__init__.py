"""Serving the production model over REST: `mindshare serve` (app.py) and its answers (answers.py)."""

"""Feature engineering from the training interactions only: users, items, and (user, item) pairs."""

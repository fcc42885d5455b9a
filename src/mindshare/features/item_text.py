"""Each catalogue item's words as one document, for the content family and its re-ranker feature.

Title, categories, tags and description, whichever the catalogue has, joined by spaces; a list
column's values (or a '|'-joined string, as an events log's item columns arrive) become words too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TEXT_COLUMNS = ("title", "categories", "tags", "description")


def _as_words(value) -> str:
    """A cell as text: list / array values joined by spaces, '|' separators as spaces, missing as ''."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return " ".join(str(v) for v in value if v is not None and v == v)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).replace("|", " ")


def item_documents(catalogue: pd.DataFrame | None) -> pd.Series | None:
    """item_id (str) -> its document; None where there is no catalogue or it has none of TEXT_COLUMNS."""
    if catalogue is None or "item_id" not in catalogue:
        return None
    columns = [c for c in TEXT_COLUMNS if c in catalogue]
    if not columns:
        return None
    parts = [catalogue[c].map(_as_words).astype(str) for c in columns]
    joined = parts[0].str.cat(parts[1:], sep=" ") if len(parts) > 1 else parts[0]
    documents = joined.str.split().str.join(" ")  # one space between words, none at the ends
    return pd.Series(documents.to_numpy(dtype=object), index=catalogue["item_id"].astype(str).to_numpy(),
                     name="document")

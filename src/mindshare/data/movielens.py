"""MovieLens, read offline from a local folder or zip in any of its layouts.

Layouts: `ratings.csv` + `movies.csv` (latest, latest-small, 20m, 25m, 32m),
`ratings.dat` + `movies.dat` with '::' (1m, 10m), `u.data` + `u.item` (100k).
Demographics where the release has them: `u.user` (100k), `users.dat` (1m); tags: `tags.csv`,
`tags.dat` (10m).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mindshare.data.schema import RawTable, split_categories
from mindshare.data.text_files import read_delimited
from mindshare.errors import MindshareError

ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
]


@dataclass(frozen=True)
class Layout:
    ratings: str
    items: str
    sep: str
    header: bool
    items_encoding: str


LAYOUTS = (
    Layout("ratings.csv", "movies.csv", ",", True, "utf-8"),
    Layout("ratings.dat", "movies.dat", "::", False, "latin-1"),
    Layout("u.data", "u.item", "\t", False, "latin-1"),
)


class _Files:
    """The files of a MovieLens release, in a folder or a zip, by base name."""

    def __init__(self, path: Path):
        self.path = path
        if not path.exists():
            raise MindshareError(f"{path}: no such file or folder; set ingest.path in params.yaml")
        if path.is_dir():
            self.names = {p.name: p for p in path.rglob("*") if p.is_file()}
            self.zip = None
        else:
            try:
                self.zip = zipfile.ZipFile(path)
            except zipfile.BadZipFile:
                raise MindshareError(f"{path}: not a readable zip file; download it again") from None
            self.names = {Path(n).name: n for n in self.zip.namelist() if not n.endswith("/")}

    def read(self, name: str) -> tuple[bytes, str]:
        member = self.names[name]
        if self.zip is None:
            return Path(member).read_bytes(), str(member)
        return self.zip.read(member), f"{self.path}:{member}"


def read_movielens(path: str | Path) -> tuple[RawTable, RawTable | None]:
    """Return the raw ratings (canonical column names) and the raw items table."""
    files = _Files(Path(path))
    layout = next((lay for lay in LAYOUTS if lay.ratings in files.names), None)
    if layout is None:
        raise MindshareError(
            f"{path}: no MovieLens ratings file found (looked for ratings.csv, ratings.dat, u.data); "
            "point ingest.path at a MovieLens folder or zip"
        )
    data, source = files.read(layout.ratings)
    names = None if layout.header else ["user_id", "item_id", "rating", "timestamp"]
    ratings = read_delimited(
        data, source, sep=layout.sep, names=names, id_columns=("userId", "movieId", "user_id", "item_id")
    )
    ratings = RawTable(
        frame=ratings.frame.rename(columns={"userId": "user_id", "movieId": "item_id"}),
        source=ratings.source,
        first_line=ratings.first_line,
    )
    items = _read_items(files, layout) if layout.items in files.names else None
    if items is not None:
        tags = _read_tags(files)
        if tags is not None:
            frame = items.frame.assign(tags=items.frame["item_id"].astype(str).map(tags))
            frame["tags"] = frame["tags"].map(lambda t: t if isinstance(t, list) else [])
            items = RawTable(frame=frame, source=items.source, first_line=items.first_line)
    return ratings, items


def _read_tags(files: _Files) -> pd.Series | None:
    """item_id -> its distinct tags, lower-cased, from tags.csv (latest, 20m+) or tags.dat (10m)."""
    if "tags.csv" in files.names:
        data, source = files.read("tags.csv")
        table = read_delimited(data, source, id_columns=("userId", "movieId"))
        frame = table.frame.rename(columns={"movieId": "item_id"})
    elif "tags.dat" in files.names:
        data, source = files.read("tags.dat")
        table = read_delimited(
            data,
            source,
            sep="::",
            names=["user_id", "item_id", "tag", "timestamp"],
            encoding="latin-1",
            id_columns=("user_id", "item_id"),
        )
        frame = table.frame
    else:
        return None
    if not {"item_id", "tag"} <= set(frame.columns):
        raise MindshareError(f"{source}: needs columns movieId and tag")
    tags = frame["tag"].dropna().astype(str).str.strip().str.lower()
    pairs = pd.DataFrame({"item_id": frame.loc[tags.index, "item_id"].astype(str), "tag": tags})
    pairs = pairs[pairs["tag"] != ""].drop_duplicates()
    return pairs.groupby("item_id", sort=False)["tag"].agg(list)


def read_movielens_users(path: str | Path) -> RawTable | None:
    """The release's demographics as canonical users (user_id, gender, age_group, occupation), or None.
    Zip codes are not read: with age and gender they come close to identifying a person."""
    files = _Files(Path(path))
    if "u.user" in files.names:
        data, source = files.read("u.user")
        names = ["user_id", "age", "gender", "occupation", "zip"]
        table = read_delimited(data, source, sep="|", names=names, encoding="latin-1", id_columns=("user_id",))
    elif "users.dat" in files.names:
        data, source = files.read("users.dat")
        names = ["user_id", "gender", "age", "occupation", "zip"]
        table = read_delimited(
            data, source, sep="::", names=names, encoding="latin-1", id_columns=("user_id", "occupation")
        )
    else:
        return None
    frame = table.frame[["user_id", "gender", "age", "occupation"]]
    return RawTable(frame=frame, source=source, first_line=1)


def _read_items(files: _Files, layout: Layout) -> RawTable:
    data, source = files.read(layout.items)
    if layout.items == "u.item":
        names = ["item_id", "title", "release", "video_release", "url", *ML100K_GENRES]
        table = read_delimited(data, source, sep="|", names=names, encoding="latin-1", id_columns=("item_id",))
        flags = table.frame[ML100K_GENRES].fillna(0).astype(bool)
        categories = flags.apply(lambda row: [g for g in ML100K_GENRES[1:] if row[g]], axis=1)
        frame = pd.DataFrame(
            {"item_id": table.frame["item_id"], "title": table.frame["title"], "categories": categories}
        )
        return RawTable(frame=frame, source=source, first_line=1)
    names = None if layout.header else ["item_id", "title", "genres"]
    table = read_delimited(
        data, source, sep=layout.sep, names=names, encoding=layout.items_encoding, id_columns=("movieId", "item_id")
    )
    frame = table.frame.rename(columns={"movieId": "item_id"})
    frame = pd.DataFrame(
        {"item_id": frame["item_id"], "title": frame["title"], "categories": split_categories(frame["genres"])}
    )
    return RawTable(frame=frame, source=source, first_line=table.first_line)

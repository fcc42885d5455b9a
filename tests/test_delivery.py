"""The last mile of a campaign: `mindshare audience --resolve customers --out send.csv` maps the audience's
pseudonyms back to the team's raw ids, renders the messages as the audience stage does, and writes raw ids
nowhere but the send list."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

import pandas as pd
import pytest

from mindshare.cli.parser import main
from mindshare.data.interactions import Interactions
from mindshare.data.pseudonymise import pseudonymise
from mindshare.data.schema import RawTable, canonical_users
from mindshare.data.split import split_random_per_user
from mindshare.data.synthetic import SyntheticSpec, generate_synthetic, generate_synthetic_users
from mindshare.errors import MindshareError
from mindshare.marketing.campaign_runs import single_campaign
from mindshare.marketing.campaigns import Campaign
from mindshare.marketing.delivery import read_customers, resolve_audience
from mindshare.marketing.messages import messages
from mindshare.models import make_model
from mindshare.settings import AudienceSettings

from stage_project import write_params

KEY = "delivery-test-key"
SPEC = SyntheticSpec(n_users=150, n_items=60, n_interactions=3000, seed=5, user_prefix="qx8raw-")
RAW_ID = re.compile(r"qx8raw-[0-9]")  # a raw id; the bare prefix is config (params.yaml), not a person
CAMPAIGN = {"name": "first", "categories": ["category_01"], "budget": 30, "control_share": 0.2, "channel": "sms",
            "template": "Hello{{ ' ' ~ name if name }}, {{ reason }}: {{ top_items | join(', ') }}"}


def _audience(raw: list[str], groups: list[str]) -> pd.DataFrame:
    """An audience table as `audience_table` makes it, for raw ids hashed with KEY."""
    return pd.DataFrame({"user_id": pseudonymise(raw, KEY.encode()), "score": 1.0, "group": groups,
                         "top_item_ids": [["i1"]] * len(raw), "top_items": [["Item one"]] * len(raw),
                         "reason_items": [["Liked"]] * len(raw), "reason": ["because you liked Liked"] * len(raw)})


def test_resolve_maps_exactly_the_listed_audience_members_back(tmp_path):
    campaign = Campaign(**CAMPAIGN)
    audience = _audience(["a1", "a2", "a3", "a4"], ["treatment", "control", "treatment", "treatment"])
    file = tmp_path / "customers.csv"
    file.write_text("user_id,email\na3,x@y\n a1 ,p@q\nnobody,n@n\na2,r@s\na3,again\n,empty\n")
    customers = read_customers(file)
    assert (customers.rows, customers.empty, customers.duplicates) == (6, 1, 1)
    assert customers.first_duplicate == f"{file}, line 6" and list(customers.ids) == ["a3", "a1", "nobody", "a2"]
    names = pd.Series({audience["user_id"][0]: "Ann"})
    delivery = resolve_audience(campaign, audience, customers, KEY.encode(), names)
    assert delivery.table.to_dict("list") == {
        "user_id": ["a1", "a2", "a3"],  # audience order; a4 is not in the list
        "channel": ["sms"] * 3,
        "message": ["Hello Ann, because you liked Liked: Item one", "", "Hello, because you liked Liked: Item one"],
        "group": ["treatment", "control", "treatment"],
    }
    assert (delivery.treatment, delivery.control, delivery.not_in_customers, delivery.customers_outside) == (2, 1, 1, 1)
    rendered = {m["user_id"]: m["message"] for m in messages(campaign, audience, names)}  # as the stage renders
    assert delivery.table["message"][0] == rendered[audience["user_id"][0]]


def test_customers_files_of_every_kind_and_their_mistakes(tmp_path):
    frame = pd.DataFrame({"CustomerID": ["007", "17850.0", "42"], "name": ["a", "b", "c"]})
    frame.to_parquet(tmp_path / "c.parquet")
    frame.to_csv(tmp_path / "c.tsv", sep="\t", index=False)
    for name in ("c.parquet", "c.tsv"):
        assert list(read_customers(tmp_path / name, "CustomerID").ids) == ["007", "17850.0", "42"]  # zeros kept
    assert list(read_customers(tmp_path / "c.tsv", "CustomerID", repair_float_ids=True).ids) == ["007", "17850", "42"]
    with pytest.raises(MindshareError, match=r"c\.tsv: column 'user_id' is missing \(columns: CustomerID, name\)"):
        read_customers(tmp_path / "c.tsv")
    with pytest.raises(MindshareError, match="absent.csv: customers file not found"):
        read_customers(tmp_path / "absent.csv")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder (params.yaml, items, users, test split) and an item_knn model standing in for
    `@production`; the raw ids of the synthetic users carry RAW_ID's prefix."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINDSHARE_PSEUDONYM_KEY", KEY)
    interactions, items = generate_synthetic(SPEC)
    users = canonical_users(RawTable(generate_synthetic_users(SPEC), "users"))
    raw_ids = sorted(set(interactions["user_id"]))
    users["user_id"] = pseudonymise(users["user_id"], KEY.encode())
    interactions["user_id"] = pseudonymise(interactions["user_id"], KEY.encode())
    split = split_random_per_user(interactions, 0.2, 0.0, seed=0)
    for name, frame in (("interim/items", items), ("interim/users", users), ("processed/test", split.test)):
        (tmp_path / f"data/{name}.parquet").parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(tmp_path / f"data/{name}.parquet", index=False)
    write_params(tmp_path, campaigns=[CAMPAIGN])
    model = make_model("item_knn", {}).fit(Interactions.from_frame(split.train))
    monkeypatch.setattr("mindshare.tracking.production.production_recommender",
                        lambda name: ("1", SimpleNamespace(recommender=model,
                                                           policy_=SimpleNamespace(exclude_seen=True))))
    _, audience, _ = single_campaign(model, [Campaign(**CAMPAIGN)], "first", None, AudienceSettings(), items,
                                     split.test)
    return tmp_path, raw_ids, audience, users


@pytest.mark.parametrize("file, column", [("customers.csv", None), ("crm.parquet", "CustomerID")])
def test_the_send_list_through_the_cli(project, capsys, caplog, file, column):
    folder, raw_ids, audience, users = project
    listed = raw_ids[::2] + ["qx8raw-not-a-customer-1"]  # half the users, and one nobody knows
    frame = pd.DataFrame({column or "user_id": listed + listed[:3], "note": "x"})  # three listed twice
    frame.to_parquet(folder / file) if file.endswith(".parquet") else frame.to_csv(folder / file, index=False)
    before = {p for p in folder.rglob("*") if p.is_file()}
    with caplog.at_level(logging.DEBUG):
        code = main(["audience", "--campaign", "first", "--resolve", file, "--out", "out/send.csv",
                     *(["--id-column", column] if column else [])])
    out, err = capsys.readouterr()
    assert code == 0, err
    sent = pd.read_csv(folder / "out/send.csv", dtype=str, keep_default_na=False)
    by_pseudonym = dict(zip(pseudonymise(listed, KEY.encode()), listed))
    wanted = audience[audience["user_id"].isin(list(by_pseudonym))]
    assert 0 < len(wanted) < len(audience) and (wanted["group"] == "control").any()
    assert list(sent.columns) == ["user_id", "channel", "message", "group"]
    assert sent["user_id"].tolist() == [by_pseudonym[p] for p in wanted["user_id"]]  # exactly those, once each
    assert sent["group"].tolist() == wanted["group"].tolist() and set(sent["channel"]) == {"sms"}
    names = users.set_index("user_id")["display_name"]
    rendered = {m["user_id"]: m["message"] for m in messages(Campaign(**CAMPAIGN), audience, names)}
    assert sent["message"].tolist() == [rendered.get(p, "") for p in wanted["user_id"]]
    assert (sent.loc[sent["group"] == "control", "message"] == "").all()
    assert (sent.loc[sent["group"] == "treatment", "message"].str.startswith("Hello Customer ")).all()
    assert f"send list: {len(wanted)} of {len(audience)} audience members found" in out
    assert f"not found: {len(audience) - len(wanted)} audience members (not written)" in out
    assert "raw ids listed more than once: 3" in out and "group 'control' and no message" in out
    assert not RAW_ID.search(out + err + caplog.text)  # counts and pseudonyms only on the terminal and in the log
    written = {p for p in folder.rglob("*") if p.is_file()} - before
    assert written == {folder / "out/send.csv"}
    for path in before - {folder / file}:  # nothing else holds a raw id (the fixture's files included)
        assert not RAW_ID.search(path.read_bytes().decode("latin-1")), path


@pytest.mark.parametrize(
    "args, message",
    [
        (["--resolve", "customers.csv"], "--resolve writes raw ids, so only where you ask: give --out FILE"),
        (["--resolve", "customers.csv", "--out", "send.csv", "--id-column", "CustomerID"],
         "customers.csv: column 'CustomerID' is missing (columns: user_id)"),
        (["--resolve", "customers.csv", "--out", "customers.csv"], "--out customers.csv is the --resolve file"),
        (["--out", "send.csv", "--id-column", "CustomerID"], "--id-column names the raw-id column of --resolve's file"),
    ],
)
def test_resolve_mistakes_are_one_line_and_exit_2(project, capsys, args, message):
    folder = project[0]
    (folder / "customers.csv").write_text("user_id\nqx8raw-1\n")
    assert main(["audience", "--campaign", "first", *args]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and message in err, err
    assert not out and not (folder / "send.csv").exists()

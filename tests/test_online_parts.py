"""The parts of an online experiment, on small hand-made data: the traffic split, team-draft
interleaving, the logs, attribution, a batch export of events, erasure and the params.yaml edit."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import yaml

from mindshare.data.schema import RawTable
from mindshare.errors import MindshareError
from mindshare.marketing.online_log import (
    EVENT_SCHEMA,
    EXPOSURE_SCHEMA,
    LogWriter,
    erase_from_log,
    events_from_export,
    read_exposures,
    read_log,
    write_rows,
)
from mindshare.marketing.online_outcomes import arm_figures, attribute, per_user, preference
from mindshare.marketing.traffic import arm_of, assignment_draw, route, team_draft


def test_assignment_is_sticky_salted_and_only_grows_with_the_share():
    users = [f"u{i}" for i in range(5000)]
    at_20 = {u for u in users if arm_of(u, "s", 0.2) == "challenger"}
    at_50 = {u for u in users if arm_of(u, "s", 0.5) == "challenger"}
    assert abs(len(at_20) / 5000 - 0.2) < 0.03 and abs(len(at_50) / 5000 - 0.5) < 0.03
    assert at_20 <= at_50  # raising the share never moves a challenger user back
    assert at_20 == {u for u in users if arm_of(u, "s", 0.2) == "challenger"}  # the same on every call
    assert at_20 != {u for u in users if arm_of(u, "other salt", 0.2) == "challenger"}
    assert all(0 <= assignment_draw(u, "s") < 1 for u in users[:100])
    assert not any(arm_of(u, "s", 0.0) == "challenger" for u in users)


def test_team_draft_credits_each_item_to_the_version_that_placed_it():
    production, challenger = list("abcdefgh"), list("bxaycz")
    for seed in range(50):
        mixed = team_draft(production, challenger, 6, seed)
        assert len(mixed.items) == 6 == len(set(mixed.items))
        assert mixed.items[0] in ("a", "b")  # the first pick is one version's top item
        for item, arm in zip(mixed.items, mixed.credit):
            assert item in (production if arm == "production" else challenger)
        counts = pd.Series(mixed.credit).value_counts()
        assert abs(counts.get("production", 0) - counts.get("challenger", 0)) <= 1  # one pick each per round
    assert team_draft(["a"], [], 5, 0).items == ["a"]  # short lists end the draft


def test_route_answers_by_arm():
    prod, chall = (lambda k: list("abc")[:k]), (lambda k: list("xyz")[:k])
    assert route("u", "r", 2, "ab", 0.0, "s", prod, chall).items == ["a", "b"]
    everyone = [route(f"u{i}", "r", 3, "ab", 0.5, "s", prod, chall) for i in range(200)]
    assert {r.arm for r in everyone} == {"production", "challenger"}
    assert all(r.items == (list("xyz") if r.arm == "challenger" else list("abc")) for r in everyone)
    mixed = [route(f"u{i}", f"r{i}", 4, "interleaving", 0.5, "s", prod, chall) for i in range(200)]
    assert {r.arm for r in mixed} == {"production", "interleaved"}
    assert all(set(r.credit) == {"production", "challenger"} for r in mixed if r.arm == "interleaved")


def exposure(t, request, user, arm, credit, item, method="ab", version="1"):
    return dict(time=t, request_id=request, user_id=user, method=method, arm=arm, credit=credit, version=version,
                item_id=item, position=1, k=2)


def event(t, kind, request="", user="", item="", value=0.0):
    return dict(time=t, request_id=request, user_id=user, item_id=item, kind=kind, value=value)


def test_events_are_attributed_within_the_window_and_unmatched_ones_counted():
    exposures = pd.DataFrame([
        exposure(100.0, "r1", "u1", "production", "production", "a"),
        exposure(100.0, "r1", "u1", "production", "production", "b"),
        exposure(200.0, "r2", "u2", "challenger", "challenger", "a", version="2"),
        exposure(300.0, "r3", "u3", "interleaved", "challenger", "c", method="interleaving", version="2"),
        exposure(300.0, "r3", "u3", "interleaved", "production", "d", method="interleaving"),
    ])
    events = pd.DataFrame([
        event(150.0, "click", request="r1", item="b"),
        event(250.0, "click", user="u2", item="a"),  # by user and item: the latest answer that showed it
        event(260.0, "conversion", request="r2", value=9.5),  # the answer as a whole
        event(310.0, "click", request="r3", item="c"),
        event(99_999.0, "click", request="r3", item="d"),  # after the 1-hour window
        event(50.0, "click", user="u9", item="a"),  # nobody showed it
    ])
    attributed = attribute(exposures, events, attribution_hours=1.0)
    assert attributed.unmatched == 2 and len(attributed.events) == 4
    users = per_user(exposures, attributed.events).set_index("user_id")
    assert users.loc["u1", "clicks"] == 1 and users.loc["u2", "clicks"] == 1 and users.loc["u2", "value"] == 9.5
    assert users.loc["u3", "challenger_clicks"] == 1 and users.loc["u3", "production_clicks"] == 0
    assert preference(users.reset_index()) == (1, 0, 0)
    figures = arm_figures(exposures, users.reset_index()).set_index("arm")
    assert figures.loc["production", "ctr_at_k"] == 0.5 and figures.loc["challenger", "conversion_rate"] == 1.0


def answer_record(t, request, user, items, credits, versions, method="ab", arm="production"):
    return dict(time=t, request_id=request, user_id=user, method=method, arm=arm, k=len(items), items=items,
                credits=credits, versions=versions)


def test_the_log_writer_batches_off_the_caller_and_loses_nothing(tmp_path):
    writer = LogWriter(tmp_path / "log", EXPOSURE_SCHEMA, flush_seconds=0.1, flush_records=40)
    now = time.time()
    for i in range(250):
        writer.append([answer_record(now + i * 1800.0, f"r{i}", "u", [str(i), "x"], ["production"] * 2, ["1"] * 2)])
    assert writer.flush(timeout=20)
    writer.close()
    rows = read_log(tmp_path / "log", EXPOSURE_SCHEMA)
    assert len(rows) == 250 == writer.written and sorted(rows["request_id"]) == sorted(f"r{i}" for i in range(250))
    shown = read_exposures(tmp_path / "log")
    assert len(shown) == 500 and (shown.groupby("request_id")["position"].apply(tuple) == (1, 2)).all()
    assert set(shown.loc[shown["position"] == 2, "item_id"]) == {"x"}
    hours = list((tmp_path / "log").glob("date=*/hour=*"))
    assert len(hours) > 100  # one folder per hour: the rotation
    assert not list((tmp_path / "log").rglob("*.tmp"))
    assert read_log(tmp_path / "nothing", EVENT_SCHEMA).columns.tolist() == EVENT_SCHEMA.names


def test_erasure_removes_a_person_from_every_part(tmp_path):
    now = time.time()
    write_rows(tmp_path, [answer_record(now, "r1", "gone", ["a"], ["production"], ["1"]),
                          answer_record(now + 7200, "r2", "gone", ["b"], ["production"], ["1"]),
                          answer_record(now, "r3", "kept", ["c"], ["production"], ["1"])], EXPOSURE_SCHEMA)
    assert erase_from_log(tmp_path, "gone") == 2
    assert read_log(tmp_path, EXPOSURE_SCHEMA)["user_id"].tolist() == ["kept"]


def table(rows: dict) -> RawTable:
    return RawTable(pd.DataFrame(rows), "export.csv")


def test_a_batch_export_becomes_events_or_one_line_naming_the_row():
    rows = events_from_export(table({"kind": ["click", "Conversion"], "request_id": ["r1", ""],
                                     "user_id": ["", "raw-7"], "item_id": ["a", "b"], "value": ["", "12.5"]}), b"k")
    assert [r["kind"] for r in rows] == ["click", "conversion"] and rows[1]["value"] == 12.5
    assert rows[1]["user_id"] not in ("", "raw-7") and rows[0]["user_id"] == ""  # hashed, never raw
    with pytest.raises(MindshareError, match="export.csv, line 3: kind must be"):
        events_from_export(table({"kind": ["click", "view"], "request_id": ["r1", "r2"]}), b"k")
    with pytest.raises(MindshareError, match="line 2: name the request_id"):
        events_from_export(table({"kind": ["click"], "request_id": [""], "user_id": ["u"], "item_id": [""]}), b"k")
    with pytest.raises(MindshareError, match="line 2: value must be a number"):
        events_from_export(table({"kind": ["click"], "request_id": ["r"], "value": ["lots"]}), b"k")
    with pytest.raises(MindshareError, match="needs a `kind` column"):
        events_from_export(table({"item_id": ["x"]}), b"k")


def test_setting_the_share_edits_one_line_of_params(tmp_path):
    from mindshare.project.params import set_challenger_share

    text = "a: 1  # one\nonline:                # block\n  challenger_share: 0.25   # the share\n  method: ab\nz: 2\n"
    path = tmp_path / "params.yaml"
    path.write_text(text)
    assert set_challenger_share(0.0, path) == 0.25
    assert path.read_text() == text.replace("0.25   # the share", "0      # the share")
    bare = tmp_path / "bare.yaml"
    bare.write_text("a: 1\n")
    assert set_challenger_share(0.5, bare) is None and "online:\n  challenger_share: 0.5" in bare.read_text()
    assert np.isclose(yaml.safe_load(bare.read_text())["online"]["challenger_share"], 0.5)


def test_the_log_queue_is_bounded_and_counts_what_it_drops(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the log's folder should be: every write fails")
    writer = LogWriter(blocked, EXPOSURE_SCHEMA, flush_seconds=60, flush_records=10, max_queued_records=25)
    now = time.time()
    accepted = [writer.append([answer_record(now, f"r{i}", "u", ["a"], ["production"], ["1"])]) for i in range(40)]
    assert accepted == [True] * 25 + [False] * 15
    writer.close()
    assert writer.counts() == {"written": 0, "dropped": 15, "failed": 25, "queued": 0}


def test_old_hours_are_deleted_and_events_are_filed_by_arrival(tmp_path):
    from mindshare.marketing.online_log import delete_hours_before
    from mindshare.serving.experiment import event_row

    now = time.time()
    write_rows(tmp_path, [answer_record(now - 100 * 86_400, "old", "u", ["a"], ["production"], ["1"]),
                          answer_record(now, "new", "u", ["a"], ["production"], ["1"])], EXPOSURE_SCHEMA)
    assert delete_hours_before(tmp_path, now - 90 * 86_400) == 1
    assert read_log(tmp_path, EXPOSURE_SCHEMA)["request_id"].tolist() == ["new"]
    key = b"online-parts-test-key-0123456789"
    late = event_row(key, "click", "r1", None, None, None, now - 3 * 86_400)  # its own time: 3 days ago
    write_rows(tmp_path / "events", [late], EVENT_SCHEMA)
    folders = [p.relative_to(tmp_path / "events").parts[:2] for p in (tmp_path / "events").rglob("*.parquet")]
    moment = time.gmtime(late["received"])
    assert folders == [(time.strftime("date=%Y-%m-%d", moment), time.strftime("hour=%H", moment))]
    assert read_log(tmp_path / "events", EVENT_SCHEMA)["time"].tolist() == [late["time"]]
    for bad in (now + 3600, now - 91 * 86_400, 0.0):  # an hour ahead, past the retention, 1970
        with pytest.raises(ValueError, match="is not between 90 days ago and 300 s from now"):
            event_row(key, "click", "r1", None, None, None, bad)


def test_a_sample_ratio_mismatch_is_flagged():
    from mindshare.marketing.online_outcomes import sample_ratio

    def users(production: int, challenger: int) -> pd.DataFrame:
        return pd.DataFrame({"arm": ["production"] * production + ["challenger"] * challenger})

    fair = sample_ratio(users(5_030, 4_970), "challenger", 0.5)
    assert not fair.mismatch and fair.p_value > 0.5 and "sample ratio ok" in fair.describe()
    skewed = sample_ratio(users(5_300, 4_700), "challenger", 0.5)  # 47% where 50% was asked for
    assert skewed.mismatch and skewed.p_value < 1e-6 and "MISMATCH" in skewed.describe()
    assert not sample_ratio(users(9_010, 990), "challenger", 0.1).mismatch
    assert sample_ratio(users(10, 0), "challenger", 0.0) is None


@pytest.mark.integration
def test_the_sample_ratio_is_checked_against_the_share_each_user_was_answered_with():
    """A promotion after the share went back to 0 still checks the split the server answered with (recorded per
    answer); users answered under different shares each count with their own."""
    from mindshare.marketing.online_outcomes import experiment_status

    rng = np.random.default_rng(0)
    now = time.time()

    def answers(n: int, share: float, start: int, skew: float = 0.0) -> list[dict]:
        arms = np.where(rng.random(n) < share + skew, "challenger", "production")
        return [answer_record(now + i, f"r{start + i}", f"{start + i:020x}", ["a"], [arm], ["2" if arm ==
                              "production" else "1"], arm=arm) | {"share": share} for i, arm in enumerate(arms)]

    def status(rows: list[dict], configured: float):
        shown = pd.DataFrame([{**r, "credit": r["credits"][0], "version": r["versions"][0], "item_id": "a",
                               "position": 1} for r in rows])
        return experiment_status(shown, pd.DataFrame(columns=EVENT_SCHEMA.names), "ab", "ctr", 0.05, 24,
                                 challenger_share=configured).srm

    honest = answers(3_000, 0.5, 0) + answers(3_000, 0.1, 3_000)  # half, then a tenth on the challenger
    checked = status(honest, configured=0.0)  # the experiment was stopped before the promotion
    assert checked is not None and not checked.mismatch and abs(checked.expected_share - 0.3) < 1e-9
    steered = answers(3_000, 0.5, 0, skew=0.1)  # 60% challenger where 50% was set
    assert status(steered, configured=0.0).mismatch
    legacy = [{k: v for k, v in r.items() if k != "share"} for r in answers(2_000, 0.5, 0, skew=0.1)]
    assert status(legacy, configured=0.5).mismatch  # rows logged before the share was: the configured one
    assert status(legacy, configured=0.0) is None  # and where that is 0 too, nothing to check against

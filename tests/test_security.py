"""Security checks beside schemathesis: hostile text in messages, send lists and campaign names; keys, scopes,
bodies and Host headers on the served app; the pseudonymisation key's creation. Small synthetic data, real
MLflow where a model is served."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import jinja2
import pandas as pd
import pytest

from mindshare.data.pseudonymise import DEFAULT_KEY_FILE, key_fingerprint, load_key, load_project_key
from mindshare.errors import MindshareError
from mindshare.marketing.messages import audience_csv
from mindshare.models.served import model_key
from mindshare.safe_text import formula_safe, is_campaign_name, render
from mindshare.settings import CampaignSettings, checked_block

# --- text that reaches customers, spreadsheets and file names --------------------------------------------------


def test_templates_render_in_a_sandbox():
    with pytest.raises(jinja2.exceptions.SecurityError):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", "text", {})
    with pytest.raises(jinja2.exceptions.SecurityError):  # immutable: a template cannot change the data
        render("{{ top_items.append('x') }}", "text", {"top_items": ["a"]})


def test_customer_names_cannot_break_or_reorder_a_plain_text_message():
    hostile = "Ann\r\nBcc: all@example.com\u202eevil"
    text = render("Hello {{ name }}! {{ top_items | join(', ') }}", "text",
                  {"name": hostile, "top_items": ["A\nB", "C"]})
    assert "\n" not in text and "\r" not in text and "\u202e" not in text
    assert text == "Hello Ann  Bcc: all@example.comevil! A B, C"


def test_html_messages_escape_every_value():
    html = render("<p>Hello {{ name }}: {{ top_items | join(', ') }}</p>", "html",
                  {"name": "<script>x</script>", "top_items": ["Tom & Jerry"]})
    assert "<script>" not in html and "&lt;script&gt;" in html and "Tom &amp; Jerry" in html


def test_each_channel_escapes_as_it_displays():
    def campaign(**kw) -> CampaignSettings:
        return CampaignSettings(name="c", categories=["A"], budget=5, template="Hi {{ name }}", **kw)

    assert {channel: campaign(channel=channel).message_format for channel in ("email", "sms", "push", "web", "in_app")
            } == {"email": "text", "sms": "text", "push": "text", "web": "html", "in_app": "html"}
    assert campaign(channel="email", format="html").message_format == "html"  # an HTML e-mail, asked for
    with pytest.raises(ValueError, match="channel 'sms' carries text, not html"):
        campaign(channel="sms", format="html")  # the phone would show &amp; as typed
    with pytest.raises(ValueError, match="channel 'letter' has no default escaping: set format"):
        campaign(channel="letter")
    assert campaign(channel="letter", format="text").message_format == "text"


def test_spreadsheet_formulas_are_neutralised_in_send_lists_and_audiences():
    send = formula_safe(pd.DataFrame({"user_id": ["-7"], "message": ["=HYPERLINK(\"http://x\")"], "channel": ["@x"],
                                      "group": ["treatment"]}))
    assert send.loc[0, "user_id"] == "-7"  # the team's own id, matched as listed
    assert send.loc[0, "message"].startswith("'=") and send.loc[0, "channel"] == "'@x"
    audience = pd.DataFrame({"user_id": ["p1"], "score": [-0.5], "group": ["treatment"], "reason": ["+cmd"],
                             "top_item_ids": [["-1", "2"]], "top_items": [["=1+1", "B"]], "reason_items": [["A"]]})
    written = pd.read_csv(__import__("io").StringIO(audience_csv(audience)), dtype=str)
    assert written.loc[0, "reason"] == "'+cmd" and written.loc[0, "top_items"] == "'=1+1|B"
    assert written.loc[0, "top_item_ids"] == "-1|2" and float(written.loc[0, "score"]) == -0.5


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "x" * 65, "a b", "naïve"])
def test_campaign_names_that_are_unsafe_as_file_names_are_refused(name):
    assert not is_campaign_name(name)
    with pytest.raises(MindshareError, match="campaign name|at least 1"):
        checked_block(CampaignSettings, {"name": name, "categories": ["Drama"], "budget": 10}, "campaigns")


def test_the_cli_refuses_an_unsafe_campaign_name_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mindshare.cli", "outcomes", "--campaign", "../../etc/x", "--file",
                           "r.csv"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "campaign name" in done.stderr


# --- the pseudonymisation key ----------------------------------------------------------------------------------


def test_the_key_is_made_once_atomically_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MINDSHARE_PSEUDONYM_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MindshareError, match="no pseudonymisation key"):
        load_key()  # only ingest makes one
    key = load_key(create=True)
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and "created a new pseudonymisation key" in said[0] and key_fingerprint(key) in said[0]
    assert len(key) == 64 and (tmp_path / DEFAULT_KEY_FILE).stat().st_mode & 0o077 == 0
    assert load_key(create=True) == key and capsys.readouterr().err == ""  # made once
    assert not list((tmp_path / DEFAULT_KEY_FILE).parent.glob(".*tmp"))


@pytest.mark.parametrize("content", ["", "  \n", "short"])
def test_an_empty_or_short_key_is_refused(tmp_path, monkeypatch, content):
    monkeypatch.delenv("MINDSHARE_PSEUDONYM_KEY", raising=False)
    (tmp_path / "key").write_text(content)
    with pytest.raises(MindshareError, match="empty|too short"):
        load_key(tmp_path / "key", create=True)
    monkeypatch.setenv("MINDSHARE_PSEUDONYM_KEY", content)
    with pytest.raises(MindshareError, match="MINDSHARE_PSEUDONYM_KEY is (empty|too short)"):
        load_key()


def test_outputs_made_under_another_key_are_not_mixed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINDSHARE_PSEUDONYM_KEY", "the-key-the-data-was-made-with")
    made_with = key_fingerprint(b"the-key-the-data-was-made-with")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/ingest.json").write_text(json.dumps({"key_fingerprint": made_with}))
    assert load_project_key() == b"the-key-the-data-was-made-with"
    assert model_key({"key_fingerprint": made_with}) == b"the-key-the-data-was-made-with"
    monkeypatch.setenv("MINDSHARE_PSEUDONYM_KEY", "a-new-key-after-a-rotation")
    with pytest.raises(MindshareError, match=f"is not the one the project's data .* was made with \\({made_with}\\)"):
        load_project_key()
    with pytest.raises(MindshareError, match="is not the one this model was made with"):
        model_key({"key_fingerprint": made_with})
    assert key_fingerprint(b"a-new-key-after-a-rotation") not in str(b"a-new-key-after-a-rotation")


# --- durable files ---------------------------------------------------------------------------------------------


def test_outputs_follow_the_umask_keep_an_edited_files_mode_and_private_ones_stay_private(tmp_path):
    from mindshare.atomic_files import write_json, write_text

    old = os.umask(0o027)
    try:
        write_json({"a": 1}, tmp_path / "report.json")
        assert stat.S_IMODE((tmp_path / "report.json").stat().st_mode) == 0o640
        params = tmp_path / "params.yaml"
        params.write_text("a: 1\n")
        params.chmod(0o644)
        write_text("a: 2\n", params)  # an edit, as promote's challenger_share -> 0
        assert stat.S_IMODE(params.stat().st_mode) == 0o644 and params.read_text() == "a: 2\n"
        write_text("user_id\n17850\n", tmp_path / "send.csv", private=True)
        assert stat.S_IMODE((tmp_path / "send.csv").stat().st_mode) == 0o600
        assert not list(tmp_path.glob(".*.tmp"))
    finally:
        os.umask(old)


def test_promotions_and_rollbacks_take_turns(tmp_path, monkeypatch):
    import threading

    from mindshare.errors import PolicyRefusal
    from mindshare.tracking.registry import registry_lock

    monkeypatch.chdir(tmp_path)
    order: list[str] = []
    with registry_lock("m"):
        waiter = threading.Thread(target=lambda: [registry_lock("m").__enter__(), order.append("second")])
        waiter.start()
        waiter.join(0.5)
        order.append("first")
    waiter.join(5)
    assert order == ["first", "second"]
    with pytest.raises(PolicyRefusal, match="held the lock"):
        with registry_lock("other"):
            done = []
            blocked = threading.Thread(target=lambda: done.append(_try_lock("other")))
            blocked.start()
            blocked.join(5)
            raise done[0]


def _try_lock(name: str):
    from mindshare.tracking.registry import registry_lock

    try:
        with registry_lock(name, seconds=0.3):
            return AssertionError("the lock was taken twice")
    except Exception as error:  # the refusal, handed back to the test's thread
        return error


# --- erasure that holds ------------------------------------------------------------------------------------------


def test_a_forgotten_person_stays_forgotten_under_a_new_key(tmp_path, monkeypatch):
    """The forget list keeps an unkeyed erasure hash beside the pseudonym: after a key rotation (or loss) the
    person's raw id still matches at ingest, and their rows are dropped under the new key."""
    from mindshare.data.pseudonymise import erasure_hash, matching_ids, pseudonymise
    from mindshare.marketing.feedback import apply_feedback, forget, forgotten, forgotten_ids

    monkeypatch.chdir(tmp_path)
    forget(pseudonymise(["alice"], b"the-old-key-0123456789")[0], erasure_hash("alice"))
    new_key = b"the-new-key-9876543210"
    raw = pd.DataFrame({"user_id": ["alice", "bob", "alice", "carol"], "item_id": list("abcd")})
    listed = set(pseudonymise(sorted(matching_ids(raw["user_id"], forgotten_ids())), new_key))
    assert not listed & forgotten()  # the old pseudonym is useless under the new key...
    interactions = raw.assign(user_id=pseudonymise(raw["user_id"], new_key))
    kept, _, erased, _ = apply_feedback(interactions, pd.DataFrame({"user_id": []}), None, listed)
    assert erased == 2 and pseudonymise(["alice"], new_key)[0] not in set(kept["user_id"])  # ...the hash is not
    assert "alice" not in (tmp_path / "data/feedback/forget_ids.txt").read_text()
    assert stat.S_IMODE((tmp_path / "data/feedback/forget_ids.txt").stat().st_mode) == 0o600


def test_a_running_server_answers_a_forgotten_person_as_a_stranger_and_logs_nothing():
    from mindshare.serving.experiment import FORGOTTEN, Served
    from mindshare.settings import OnlineSettings

    class Known:  # the answers of a served version: one person known, everyone else a stranger
        key = b"served-test-key-0123456789"
        info = type("Info", (), {"version": "1"})()

        def for_pseudonym(self, hashed, k, gender=None, age=None):
            if hashed == FORGOTTEN:
                return True, [{"item_id": "popular", "title": "", "score": 0.5, "basis": "popular"}]
            return False, [{"item_id": "theirs", "title": "", "score": 1.0, "basis": "model"}]

    from mindshare.data.pseudonymise import pseudonym

    served = Served(Known(), None, OnlineSettings())
    gone = frozenset({pseudonym("dana", Known.key)})
    answer, logged = served.answer("dana", 1)
    assert answer["items"][0]["item_id"] == "theirs" and logged
    answer, logged = served.answer("dana", 1, forgotten=gone)
    assert answer["cold_start"] and answer["items"][0]["item_id"] == "popular" and logged == []

"""Security checks beside schemathesis: hostile text in messages, send lists and campaign names; keys, scopes,
bodies and Host headers on the served app; the pseudonymisation key's creation. Small synthetic data, real
MLflow where a model is served."""

from __future__ import annotations

import subprocess
import sys

import jinja2
import pandas as pd
import pytest

from mindshare.errors import MindshareError
from mindshare.marketing.messages import audience_csv
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

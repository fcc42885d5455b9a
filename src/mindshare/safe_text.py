"""Text that reaches customers, spreadsheets or file names, made safe there.

- Campaign messages render in Jinja's immutable sandbox (a template cannot reach Python internals or change
  data) with strict undefined names, escaped for where they are sent (`CHANNEL_FORMATS`: a campaign's `format`
  defaults to its channel's first). `html` escapes every value for HTML (web pages, in-app cards, HTML
  e-mail); `text` removes control and bidirectional-override characters from every value, so that a name taken
  from customer data cannot break a line of an SMS, a push message or a plain-text e-mail, or reorder it.
- Send lists and audience files are opened in spreadsheets: a text cell that starts with `=`, `+`, `-`, `@`,
  a tab or a carriage return is prefixed with `'` (OWASP's advice against CSV formula injection), ids excepted.
- Campaign names become file names and MLflow run names: letters, digits, `.`, `_` and `-`, starting with a
  letter or digit, at most 64 characters.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable

import jinja2
import pandas as pd
from jinja2.sandbox import ImmutableSandboxedEnvironment

CAMPAIGN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CAMPAIGN_NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters"
MESSAGE_FORMATS = ("text", "html")
# the formats each channel can carry, its default first: an SMS or a push message shows HTML entities as typed
CHANNEL_FORMATS = {"email": ("text", "html"), "sms": ("text",), "push": ("text",), "web": ("html",),
                   "in_app": ("html", "text")}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def is_campaign_name(name: str) -> bool:
    return CAMPAIGN_NAME.fullmatch(name) is not None


def channel_format(channel: str, message_format: str | None) -> str:
    """The format a campaign's messages are escaped for: `message_format` where given and the channel carries it,
    else the channel's default. ValueError for a format the channel cannot carry, or a channel of no known
    format without one."""
    formats = CHANNEL_FORMATS.get(channel)
    if formats is None:
        if message_format is None:
            raise ValueError(f"channel {channel!r} has no default escaping: set format (text or html), or use a "
                             f"channel of {', '.join(CHANNEL_FORMATS)}")
        return message_format
    if message_format is None:
        return formats[0]
    if message_format not in formats:
        raise ValueError(f"channel {channel!r} carries {' or '.join(formats)}, not {message_format}")
    return message_format


def _plain(value: Any) -> Any:
    """A value as plain text puts it: control characters (line breaks included) become spaces, bidirectional
    overrides go."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text if c not in _BIDI_CONTROLS)


def _plain_values(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain_values(v) for v in value]
    return _plain(value)


def message_environment(message_format: str) -> jinja2.Environment:
    """The sandboxed environment campaign templates render in, escaping for `message_format` (text | html)."""
    if message_format == "html":
        return ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=True)
    return ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, finalize=_plain)


MESSAGE_ENVIRONMENTS = {name: message_environment(name) for name in MESSAGE_FORMATS}


def render(template: str, message_format: str, context: dict) -> str:
    """`template` rendered with `context`; in text format the context's values are plain text first (a value
    joined or filtered in the template is cleaned as well as one printed as is)."""
    values = context if message_format == "html" else {k: _plain_values(v) for k, v in context.items()}
    return MESSAGE_ENVIRONMENTS[message_format].from_string(template).render(**values)


def _formula_safe_cell(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def formula_safe(table: pd.DataFrame, keep: Iterable[str] = ("user_id",)) -> pd.DataFrame:
    """`table` with every text cell that a spreadsheet would run as a formula prefixed with `'`; the columns in
    `keep` (ids the team matches on) as they are."""
    kept = set(keep)
    columns = {c: table[c].map(_formula_safe_cell) for c in table.columns
               if c not in kept and (table[c].dtype == object or pd.api.types.is_string_dtype(table[c]))}
    return table.assign(**columns) if columns else table

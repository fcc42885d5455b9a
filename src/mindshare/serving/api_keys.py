"""API keys of `mindshare serve`: who may call which endpoints.

Keys come from `MINDSHARE_API_KEYS` (entries separated by commas) and the git-ignored file `.mindshare/api_keys`
(one entry per line; `#` starts a comment), both at once so that a key can be rotated: add the new key, move the
clients, remove the old one. An entry is the key, then the scopes it may use, separated by spaces:

    3q2+7w-Kf9LZp0vX1mWcQ_aB  recommend events      # the shop's web front end
    Vb8d-1xYtR0wQm9LkPz_3eUa  audience              # the campaign tool
    Hn4s0-PqLr8dXc2vBm7tY_Kw  admin recommend events audience

Scopes: `recommend` (/recommend), `events` (POST /events), `audience` (/audience), `admin` (/admin/reload, the
full /version). An entry without scopes has every scope (a warning says so). A key must carry at least 128 bits:
32 hexadecimal characters, or 22 of URL-safe base64 (`python -c 'import secrets; print(secrets.token_urlsafe(16))'`);
a weaker one is refused at start, naming where it is written (never the key).

A request presents a key as `Authorization: Bearer <key>` or `X-API-Key: <key>` (the bearer one when both are
sent). No key configured means every protected endpoint refuses (closed by default). Every worker re-reads the
file when it changes (checked at most every `RECHECK_SECONDS`); `POST /admin/reload` re-reads it at once. Keys
never reach a log or a message: a key is named by its id, the first 8 hex characters of its SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import stat
import string
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request, Security
from fastapi.params import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from mindshare import layout
from mindshare.errors import MindshareError

log = logging.getLogger(__name__)

API_KEYS_ENV = "MINDSHARE_API_KEYS"
SCOPES = ("recommend", "events", "audience", "admin")
MIN_KEY_BITS = 128
RECHECK_SECONDS = 2.0
NO_KEYS = f"no API keys configured: set {API_KEYS_ENV} or write {layout.API_KEYS}"
NO_KEY_PRESENTED = "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
WRONG_KEY = "the API key is not valid"

BEARER = HTTPBearer(auto_error=False, scheme_name="bearerKey", description="Authorization: Bearer <key>")
KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKeyHeader",
                          description="X-API-Key: <key> (instead of the bearer header)")
_HEX = set(string.hexdigits)
_URL_SAFE = set(string.ascii_letters + string.digits + "-_")


def _digest(key: str) -> bytes:
    """Keys are compared as SHA-256 digests: equal lengths, so the comparison does not reveal a key's length."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def key_id(key: str) -> str:
    """A key's public name in logs and audit lines."""
    return _digest(key).hex()[:8]


def key_bits(key: str) -> float:
    """The most randomness `key` can carry: its length times the bits per character of the smallest alphabet
    (hexadecimal, URL-safe base64, printable ASCII) that writes it."""
    chars = set(key)
    per_char = 4 if chars <= _HEX else 6 if chars <= _URL_SAFE else math.log2(94)
    return len(key) * per_char


@dataclass(frozen=True)
class KeyEntry:
    key: str
    scopes: frozenset[str]
    where: str  # "MINDSHARE_API_KEYS entry 2", ".mindshare/api_keys line 4"


def parse_entries(text: str, source: str, separator: str | None = None) -> list[KeyEntry]:
    """The entries of `text`: comma-separated (`separator=','`) or one per line with `#` comments; blanks skipped.
    A weak key or an unknown scope raises `MindshareError` naming the entry's place."""
    if separator is not None:
        pieces = [(f"{source} entry {n}", part) for n, part in enumerate(text.split(separator), start=1)]
    else:
        pieces = [(f"{source} line {n}", line.split("#", 1)[0]) for n, line in enumerate(text.splitlines(), start=1)]
    entries = []
    for where, piece in pieces:
        words = piece.replace(",", " ").split() if separator is None else piece.split()
        if not words:
            continue
        key, scopes = words[0], frozenset(words[1:])
        unknown = sorted(scopes - set(SCOPES))
        if unknown:
            raise MindshareError(f"{where}: unknown scope {unknown[0]!r}; scopes are {', '.join(SCOPES)}")
        if key_bits(key) < MIN_KEY_BITS:
            raise MindshareError(f"{where}: the API key is too weak (under {MIN_KEY_BITS} bits); use 32 hexadecimal "
                                 "characters or `python -c 'import secrets; print(secrets.token_urlsafe(16))'`")
        entries.append(KeyEntry(key, scopes or frozenset(SCOPES), where))
        if not scopes:
            log.warning("%s: key %s has every scope (%s); name the ones it needs", where, key_id(key),
                        ", ".join(SCOPES))
    return entries


def parse_keys(text: str, separator: str | None = None) -> list[str]:
    """The keys alone of `parse_entries` (what a client command presents)."""
    return [entry.key for entry in parse_entries(text, API_KEYS_ENV if separator else "keys", separator)]


def read_key_file(path: Path) -> list[KeyEntry]:
    """The entries of `path` (none if it does not exist); a warning when others than its owner can read it."""
    if not path.exists():
        return []
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:  # the error's own text could quote the file: name its type only
        raise MindshareError(f"{path}: the API key file cannot be read ({type(error).__name__}); give it one key "
                             "per line in UTF-8, readable by the server's user") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("%s is readable by others than its owner (mode %o); run `chmod 600 %s`", path,
                    stat.S_IMODE(mode), path)
    return parse_entries(text, str(path))


def configured_entries(path: Path = layout.API_KEYS) -> list[KeyEntry]:
    return parse_entries(os.environ.get(API_KEYS_ENV, ""), API_KEYS_ENV, ",") + read_key_file(Path(path))


class ApiKeys:
    """The configured keys (as digests with their scopes), re-read by `load` (and by `check` when the file
    changed), and the constant-time check of a presented key."""

    def __init__(self, path: Path = layout.API_KEYS):
        self.path = Path(path)
        self._entries: tuple[tuple[bytes, str, frozenset[str]], ...] = ()
        self._file_state: tuple | None = None
        self._checked_at = 0.0

    @classmethod
    def from_environment(cls, path: Path = layout.API_KEYS) -> ApiKeys:
        keys = cls(path)
        keys.load()
        return keys

    @property
    def configured(self) -> int:
        return len(self._entries)

    def _state(self) -> tuple | None:
        try:
            found = self.path.stat()
        except OSError:
            return None
        return found.st_mtime_ns, found.st_size, found.st_ino

    def load(self) -> int:
        """Read the environment and the key file again (one reference swap); how many distinct keys there are.
        An unreadable file or a bad entry raises `MindshareError` and leaves the keys as they were."""
        state = self._state()
        entries = configured_entries(self.path)
        by_digest: dict[bytes, tuple[bytes, str, frozenset[str]]] = {}
        for entry in entries:
            digest = _digest(entry.key)
            scopes = by_digest[digest][2] | entry.scopes if digest in by_digest else entry.scopes
            by_digest[digest] = (digest, key_id(entry.key), scopes)
        self._entries, self._file_state, self._checked_at = tuple(by_digest.values()), state, time.monotonic()
        if not self._entries:
            log.warning("%s; /recommend, /audience, /events and /admin/reload answer 403", NO_KEYS)
        else:
            log.info("%d API keys configured", len(self._entries))
        return len(self._entries)

    def _reload_if_changed(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < RECHECK_SECONDS:
            return
        self._checked_at = now
        if self._state() != self._file_state:
            try:
                self.load()
            except MindshareError as error:  # keep the keys in force; say why
                log.warning("API keys not re-read: %s", error)

    def find(self, presented: str) -> tuple[str, frozenset[str]] | None:
        """(key id, scopes) of `presented`, None if it is no key; every key is compared, so the time says nothing
        about which matched."""
        wanted = _digest(presented)
        found = None
        for digest, name, scopes in self._entries:
            if hmac.compare_digest(wanted, digest):
                found = (name, scopes)
        return found

    def matches(self, presented: str) -> bool:
        return self.find(presented) is not None

    def check(self, presented: str | None, scope: str) -> str:
        """The key's id if it may use `scope`; else the HTTP refusal: none presented 401, a wrong key or one
        without the scope 403, and 403 for every request if no key is configured."""
        self._reload_if_changed()
        if not self._entries:
            raise HTTPException(403, NO_KEYS)
        if not presented:
            raise HTTPException(401, NO_KEY_PRESENTED, headers={"WWW-Authenticate": "Bearer"})
        found = self.find(presented)
        if found is None:
            raise HTTPException(403, WRONG_KEY)
        if scope not in found[1]:
            raise HTTPException(403, f"the API key (id {found[0]}) does not have the '{scope}' scope")
        return found[0]


def presented_key(bearer: HTTPAuthorizationCredentials | None, header: str | None) -> str | None:
    return bearer.credentials if bearer is not None else header


def requires_key(keys: ApiKeys, scope: str) -> Depends:
    """A FastAPI dependency that lets a request through only with a key that has `scope`; it declares both header
    forms as alternative security schemes in the OpenAPI description and notes the key's id on the request for
    the audit line. Attach: `dependencies=[requires_key(keys, scope)]`."""

    async def api_key(request: Request, bearer: HTTPAuthorizationCredentials | None = Security(BEARER),
                      header: str | None = Security(KEY_HEADER)) -> None:
        presented = presented_key(bearer, header)
        found = keys.find(presented) if presented else None
        request.state.audited, request.state.key_id = True, found[0] if found else "-"
        keys.check(presented, scope)

    return Security(api_key)


def optional_key(keys: ApiKeys, scope: str) -> Depends:
    """A dependency for an endpoint that answers everyone but says more to a key with `scope`: it sets
    `request.state.scoped` (and the key id) only for such a key, and never refuses. It reads the headers itself,
    so the OpenAPI description does not list the endpoint as one that needs a key."""

    async def api_key(request: Request) -> None:
        authorization = request.headers.get("authorization", "")
        bearer = authorization[7:].strip() if authorization[:7].lower() == "bearer " else None
        presented = bearer or request.headers.get("x-api-key")
        found = keys.find(presented) if presented else None
        request.state.scoped = found is not None and scope in found[1]
        if found is not None:
            request.state.audited, request.state.key_id = True, found[0]

    return Depends(api_key)

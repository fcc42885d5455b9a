"""API keys of `mindshare serve`: who may call the endpoints that expose people or change what is served.

Keys come from `MINDSHARE_API_KEYS` (comma-separated) and the git-ignored file `.mindshare/api_keys`
(one key per line; `#` starts a comment), both at once so that a key can be rotated: add the new key,
move the clients, remove the old one, `POST /admin/reload`. A request presents a key as
`Authorization: Bearer <key>` or `X-API-Key: <key>` (the bearer one when both are sent). No key
configured means every protected endpoint refuses (closed by default). Keys never reach a log or a message.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import stat
from pathlib import Path

from fastapi import Security
from fastapi.params import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from mindshare import layout
from mindshare.errors import MindshareError

log = logging.getLogger(__name__)

API_KEYS_ENV = "MINDSHARE_API_KEYS"
NO_KEYS = f"no API keys configured: set {API_KEYS_ENV} or write {layout.API_KEYS}"
NO_KEY_PRESENTED = "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
WRONG_KEY = "the API key is not valid"

BEARER = HTTPBearer(auto_error=False, scheme_name="bearerKey", description="Authorization: Bearer <key>")
KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKeyHeader",
                          description="X-API-Key: <key> (instead of the bearer header)")


def _digest(key: str) -> bytes:
    """Keys are compared as SHA-256 digests: equal lengths, so the comparison does not reveal a key's length."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def parse_keys(text: str, separator: str | None = None) -> list[str]:
    """Keys from `text`: comma-separated (`separator=','`) or one per line with `#` comments; blanks skipped."""
    if separator is not None:
        return [part.strip() for part in text.split(separator) if part.strip()]
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def read_key_file(path: Path) -> list[str]:
    """The keys of `path` (none if it does not exist); a warning when others than its owner can read it."""
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
    return parse_keys(text)


class ApiKeys:
    """The configured keys (as digests), re-read by `load`, and the constant-time check of a presented key."""

    def __init__(self, path: Path = layout.API_KEYS):
        self.path = Path(path)
        self._digests: tuple[bytes, ...] = ()

    @classmethod
    def from_environment(cls, path: Path = layout.API_KEYS) -> ApiKeys:
        keys = cls(path)
        keys.load()
        return keys

    @property
    def configured(self) -> int:
        return len(self._digests)

    def load(self) -> int:
        """Read the environment and the key file again (one reference swap); how many distinct keys there are.
        An unreadable file raises `MindshareError` and leaves the keys as they were."""
        keys = parse_keys(os.environ.get(API_KEYS_ENV, ""), ",") + read_key_file(self.path)
        self._digests = tuple(dict.fromkeys(_digest(k) for k in keys))
        if not self._digests:
            log.warning("%s; /admin/reload, /audience and other protected endpoints answer 403", NO_KEYS)
        else:
            log.info("%d API keys configured", len(self._digests))
        return len(self._digests)

    def matches(self, presented: str) -> bool:
        """True if `presented` is one of the keys; every key is compared, so the time says nothing about which."""
        wanted = _digest(presented)
        found = False
        for digest in self._digests:
            found |= hmac.compare_digest(wanted, digest)
        return found

    def check(self, presented: str | None) -> None:
        """Raise the HTTP refusal for a missing (401) or wrong (403) key; 403 for every request if none is set."""
        if not self._digests:
            raise HTTPException(403, NO_KEYS)
        if not presented:
            raise HTTPException(401, NO_KEY_PRESENTED, headers={"WWW-Authenticate": "Bearer"})
        if not self.matches(presented):
            raise HTTPException(403, WRONG_KEY)


def requires_key(keys: ApiKeys) -> Depends:
    """A FastAPI dependency that lets a request through only with one of `keys`; it declares both header
    forms as alternative security schemes in the OpenAPI description. Attach: `dependencies=[requires_key(keys)]`."""

    async def api_key(bearer: HTTPAuthorizationCredentials | None = Security(BEARER),
                      header: str | None = Security(KEY_HEADER)) -> None:
        keys.check(bearer.credentials if bearer is not None else header)

    return Security(api_key)

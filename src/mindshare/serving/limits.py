"""Bounds on what a client can make the server do, and the audit line of protected calls.

`BodyLimit` answers 413 to a request whose body is larger than `max_bytes`: at once when its Content-Length says
so, else as soon as the bytes received pass the limit, before the app parses anything (so a large POST cannot
exhaust a worker's memory, whatever the key). The number of requests in flight is bounded by uvicorn's
`limit_concurrency` (`mindshare serve --max-concurrency`: 503 beyond it).
"""

from __future__ import annotations

import logging

import orjson

audit_log = logging.getLogger("mindshare.audit")
if not audit_log.handlers:  # its own handler: the audit trail is kept whatever level uvicorn logs at
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    audit_log.addHandler(_handler)
    audit_log.setLevel(logging.INFO)
    audit_log.propagate = False


class BodyLimit:
    """ASGI middleware: 413 with one line in {"error": ...} for a body over `max_bytes`."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def _refuse(self, send) -> None:
        body = orjson.dumps({"error": f"the request body is larger than {self.max_bytes} bytes"})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        received = 0
        started = refused = False

        async def limited_receive():
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not refused:
                    refused = True
                    if not started:
                        await self._refuse(send)
                    return {"type": "http.disconnect"}  # the app stops reading; its own answer is dropped below
            return message

        async def guarded_send(message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited_receive, guarded_send)


class Audit:
    """ASGI middleware: one line per protected call and per refusal (401, 403): the key's id (never the key), the
    route, the status and the client. The key check notes the id in the request's state (serving/api_keys.py)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [0]

        async def noted_send(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        await self.app(scope, receive, noted_send)
        state = scope.get("state") or {}
        if state.get("audited") or status[0] in (401, 403):
            route = scope.get("route")
            path = getattr(route, "path", None) or scope.get("path", "")[:200]
            client = scope["client"][0] if scope.get("client") else "-"
            audit_log.info("key=%s route=%s %s status=%d client=%s", state.get("key_id", "-"), scope.get("method"),
                           path, status[0], client)

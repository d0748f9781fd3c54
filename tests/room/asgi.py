"""A request to an ASGI app in this process, without a network or an HTTP client library: what Starlette's TestClient
does, for the phone routes' tests."""

import asyncio
import contextlib
from urllib.parse import urlencode


def request(app, method: str, path: str, query: dict | None = None, body: bytes = b"", headers: dict | None = None,
            chunks: int | None = None, chunk_size: int = 65536):  # fmt: skip
    """(status, headers, body) of one request. chunks: read at most that many body chunks of a streamed answer, then
    disconnect (a server-sent stream never ends by itself). The body is sent in chunk_size pieces."""
    sent = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)] or [b""]
    scope = {
        "type": "http", "http_version": "1.1", "method": method, "path": path, "raw_path": path.encode(), "root_path": "",
        "scheme": "http", "query_string": urlencode(query or {}).encode(), "server": ("127.0.0.1", 80),
        "client": ("203.0.113.7", 5000), "headers": [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()],
    }  # fmt: skip
    status, answer_headers, parts = None, {}, []
    done = asyncio.Event()

    async def receive():
        if sent:
            piece = sent.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(sent)}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            answer_headers.update({k.decode().lower(): v.decode() for k, v in message.get("headers", [])})
        elif message["type"] == "http.response.body":
            if message.get("body"):
                parts.append(message["body"])
            if not message.get("more_body") or (chunks is not None and len(parts) >= chunks):
                done.set()

    async def run():
        task = asyncio.ensure_future(app(scope, receive, send))
        await done.wait()
        if not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 -- the stream was cut on purpose
                pass

    asyncio.run(run())
    return status, answer_headers, b"".join(parts)


@contextlib.contextmanager
def served(app):
    """The app on a loopback port of its own (uvicorn in a thread), for a browser: yields its address."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

"""A real uvicorn server for browser tests, run in a thread on a free port."""

from __future__ import annotations

import contextlib
import threading
import time

import uvicorn

from tests.conftest import free_port


@contextlib.contextmanager
def serve(app, *, timeout_s: float = 20.0):
    """Run ``app`` with uvicorn on 127.0.0.1:<free port>; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           ws="websockets-sansio", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

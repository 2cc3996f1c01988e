"""The services' HTTP server (uvicorn with a once-a-second main loop) on a real socket."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import uvicorn
from fastapi import FastAPI

from shared.web.server import Server
from tests.support.processes import free_port


def app() -> FastAPI:
    api = FastAPI()

    @api.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return api


def test_it_answers_with_a_date_and_a_stop_signal_ends_it_without_waiting_for_a_tick():
    """The main loop sleeps a whole tick between its checks; the signal handler wakes it.
    With a tick far longer than the test, the server can only stop in time if it does.
    (In a thread of its own: uvicorn leaves signals alone there, the test calls the handler.)"""
    port = free_port()
    server = Server(uvicorn.Config(app(), host="127.0.0.1", port=port, log_config=None))
    server.tick_seconds = 3600
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    answer = httpx.get(f"http://127.0.0.1:{port}/ping")
    assert answer.json() == {"pong": "yes"} and answer.headers["date"].endswith(" GMT")
    server.handle_exit(signal.SIGTERM, None)
    serving.join(30)
    assert not serving.is_alive()

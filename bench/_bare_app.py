"""The baseline for the intake benchmark: a bare FastAPI endpoint doing one asyncpg insert."""

from __future__ import annotations

import json
import os
import uuid
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request

from shared.entrypoint import settle_garbage_collector


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.pool = await asyncpg.create_pool(os.environ["BARE_DATABASE_DSN"], max_size=10)
    async with app.state.pool.acquire() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS bare (id uuid PRIMARY KEY, body jsonb)")
    settle_garbage_collector(50_000)  # as every service does at its start: a fair baseline
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/complaints", status_code=201)
async def post(request: Request) -> dict[str, str]:
    body = await request.json()
    complaint_id = uuid.uuid4()
    await request.app.state.pool.execute(
        "INSERT INTO bare (id, body) VALUES ($1, $2::jsonb)", complaint_id, json.dumps(body)
    )
    return {"complaint_id": str(complaint_id)}

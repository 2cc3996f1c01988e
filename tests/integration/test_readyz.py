"""``/readyz?only=``: a known check narrows the probe, an unknown one is a 422 naming the
parameter (not a silent "ready" with nothing checked)."""

from __future__ import annotations

import httpx

from services.intake.app import create_app
from services.intake.settings import IntakeSettings


async def test_readyz_only_names_a_known_check_or_is_a_422(servers, databases):
    settings = IntakeSettings(
        database_url=await databases.create("intake"),
        kafka_bootstrap_servers=servers.kafka_bootstrap,
        api_keys="web:web-key-0123456789",
    )
    app = create_app(settings)
    app.state.engine = app.state.runtime.engine  # what the lifespan sets
    app.state.kafka = app.state.runtime.kafka
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            ready = await client.get("/readyz", params={"only": "database"})
            assert ready.status_code == 200 and ready.json() == {
                "status": "ready", "database": "ok"
            }  # fmt: skip
            for bad in (["databse"], ["database", "kafak"]):
                wrong = await client.get("/readyz", params={"only": bad})
                assert wrong.status_code == 422, wrong.text
                [error] = wrong.json()["detail"]
                assert error["loc"] == ["query", "only"]
                assert "database" in error["msg"] and "kafka" in error["msg"]
    finally:
        await app.state.runtime.kafka.close()
        await app.state.runtime.engine.dispose()

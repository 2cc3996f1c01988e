"""What the database sees of personal data: parameters bound, never logged on error."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from shared.db import create_engine
from shared.logs import describe_error


@pytest.fixture
async def engine(databases):
    engine = create_engine(await databases.create("intake"), pool_size=1)
    yield engine
    await engine.dispose()


async def test_the_server_logs_no_parameters_of_a_failed_statement(engine):
    async with engine.connect() as conn:
        assert await conn.scalar(sa.text("SHOW log_parameter_max_length_on_error")) == "0"


async def test_a_failed_statement_is_described_without_its_values(engine):
    card = '{"name": "李娜", "phone": "13800138000"'  # not JSON: the server refuses it
    async with engine.connect() as conn:
        with pytest.raises(DBAPIError) as caught:
            await conn.execute(sa.text("SELECT CAST(:card AS jsonb)"), {"card": card})
    assert "13800138000" not in str(caught.value)  # hide_parameters
    described = describe_error(caught.value)
    assert "SQLSTATE 22P02" in described
    assert "李娜" not in described and "13800138000" not in described

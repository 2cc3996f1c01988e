"""Notify's erasure against its real database: the contact loses its data, the messages their
text; a message still waiting is parked as failed, with the reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from services.notify.erasure import erase
from services.notify.store.tables import contacts, messages
from shared.db import create_engine, session_factory


async def test_erasure_empties_the_contact_and_the_messages(databases):
    engine = create_engine(await databases.create("notify"), pool_size=1)
    complaint = uuid.uuid4()
    now = datetime.now(UTC)
    try:
        async with session_factory(engine).begin() as session:
            await session.execute(sa.insert(contacts).values(
                complaint_id=complaint, customer_id="c-1", name="李娜", email="li@example.cn",
                phone="13800138000", language="zh-CN", updated_at=now))  # fmt: skip
            for status in ("sent", "pending"):
                await session.execute(sa.insert(messages).values(
                    id=uuid.uuid4(), cause_event_id=uuid.uuid4(), cause_type="complaint.received",
                    complaint_id=complaint, key=str(complaint), recipient_kind="customer",
                    recipient="customer", channel="email", template=f"receipt-{status}",
                    language="zh-CN", subject="李娜, we got it", body_text="Dear 李娜",
                    body_html="<p>Dear 李娜</p>", status=status, next_attempt_at=now,
                    created_at=now, updated_at=now))  # fmt: skip
        async with session_factory(engine).begin() as session:
            assert await erase(session, complaint, None, "erased-x") >= 3
        async with engine.connect() as conn:
            contact = (await conn.execute(sa.select(contacts))).one()
            rows = (await conn.execute(sa.select(messages).order_by(messages.c.template))).all()
        assert (contact.name, contact.email, contact.phone) == (None, None, None)
        assert contact.customer_id == "erased-x"
        assert all("李娜" not in f"{r.subject}{r.body_text}{r.body_html}" for r in rows)
        assert [r.status for r in rows] == ["failed", "sent"]
        assert rows[0].last_error == "personal data erased"
    finally:
        await engine.dispose()

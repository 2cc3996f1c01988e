"""surveys are named by an opaque survey_id and the resolution cycle they measure, one per
complaint and cycle; no trace of a clear token is left (call-back origins, outbox payloads)

Revision ID: surveys_survey_id
Revises: identity_assignment
Create Date: 2026-11-25 19:00:00
"""

import json
import uuid

import sqlalchemy as sa
from alembic import op

from shared.events.versions import legacy_survey_id, token_sha256

revision = "surveys_survey_id"
down_revision = "identity_assignment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("survey_requests", sa.Column("survey_id", sa.UUID()))
    op.add_column("survey_requests", sa.Column("cycle", sa.Integer()))
    # Existing surveys: named by their call-back (version 1 asked one survey per call-back;
    # every reader of a version-1 event names it so); the cycle of their call-back; a second
    # survey of a cycle (what the old rules allowed) keeps no cycle, so it blocks nothing.
    rows = bind.execute(
        sa.text(
            "SELECT s.callback_id, s.complaint_id, c.round FROM survey_requests s "
            "JOIN callbacks c ON c.id = s.callback_id ORDER BY s.requested_at, s.callback_id"
        )
    ).all()
    seen: set[tuple[uuid.UUID, int]] = set()
    for callback_id, complaint_id, round_ in rows:
        cycle = round_ or 1
        if (complaint_id, cycle) in seen:
            cycle = None
        else:
            seen.add((complaint_id, cycle))
        bind.execute(
            sa.text(
                "UPDATE survey_requests SET survey_id = callback_id, cycle = :cycle "
                "WHERE callback_id = :id"
            ),
            {"id": callback_id, "cycle": cycle},
        )

    # Remedial call-backs named the survey by its token: name it by its id (found by the
    # token's hash while it is still here).
    for callback_id, origin in bind.execute(
        sa.text("SELECT id, origin FROM callbacks WHERE origin LIKE 'survey:%'")
    ).all():
        _, complaint_id, ref = origin.split(":", 2)
        if _is_uuid(ref):
            continue  # an answer without a survey: named by its event id already
        token_hash = token_sha256(ref)
        found = bind.execute(
            sa.text("SELECT survey_id FROM survey_requests WHERE token_sha256 = :h"),
            {"h": token_hash},
        ).scalar()
        new = f"survey:{complaint_id}:{found or legacy_survey_id(token_hash)}"
        bind.execute(
            sa.text("UPDATE callbacks SET origin = :o WHERE id = :id"),
            {"o": new, "id": callback_id},
        )

    op.drop_constraint("pk_survey_requests", "survey_requests", type_="primary")
    op.drop_column("survey_requests", "token_sha256")
    op.alter_column("survey_requests", "survey_id", nullable=False)
    op.create_primary_key("pk_survey_requests", "survey_requests", ["survey_id"])
    op.create_unique_constraint(
        "uq_survey_requests_complaint_id_cycle", "survey_requests", ["complaint_id", "cycle"]
    )

    # survey.requested events still in the outbox (sent or not) become version 2.
    for row_id, payload in bind.execute(
        sa.text("SELECT id, payload FROM outbox WHERE event_type = 'survey.requested'")
    ).all():
        event = payload if isinstance(payload, dict) else json.loads(payload)
        data = event["data"]
        if "survey_token" not in data:
            continue
        found = bind.execute(
            sa.text("SELECT cycle FROM survey_requests WHERE callback_id = :c"),
            {"c": data["callback_id"]},
        ).first()
        del data["survey_token"]
        data["survey_id"] = data["callback_id"]
        data["cycle"] = (found[0] if found else None) or 1
        event["dataschema"] = "urn:complaint-platform:schema:survey.requested:v2"
        bind.execute(
            sa.text("UPDATE outbox SET payload = CAST(:p AS json) WHERE id = :id"),
            {"p": json.dumps(event, ensure_ascii=False, separators=(",", ":")), "id": row_id},
        )


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def downgrade() -> None:
    # The tokens are gone for good: the old key column comes back holding the survey id.
    op.drop_constraint("uq_survey_requests_complaint_id_cycle", "survey_requests", type_="unique")
    op.drop_constraint("pk_survey_requests", "survey_requests", type_="primary")
    op.add_column("survey_requests", sa.Column("token_sha256", sa.Text()))
    op.execute("UPDATE survey_requests SET token_sha256 = survey_id::text")
    op.alter_column("survey_requests", "token_sha256", nullable=False)
    op.create_primary_key("pk_survey_requests", "survey_requests", ["token_sha256"])
    op.drop_column("survey_requests", "cycle")
    op.drop_column("survey_requests", "survey_id")

"""surveys are named by an opaque survey_id and the resolution cycle they measure, one per
complaint and cycle; no trace of a clear token is left (call-back origins, outbox payloads)

Revision ID: surveys_survey_id
Revises: 0002
Create Date: 2026-11-25 19:00:00
"""

import json
import uuid

import sqlalchemy as sa
from alembic import op

from shared.events.versions import legacy_survey_id, token_sha256

revision = "surveys_survey_id"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("survey_requests", sa.Column("survey_id", sa.UUID()))
    op.add_column("survey_requests", sa.Column("cycle", sa.Integer()))
    # Existing surveys: the id derived from the token's hash (as every reader of a version-1
    # event derives it); the cycle of their call-back; a second survey of a cycle (what the
    # old rules allowed) keeps no cycle, so it does not block anything.
    rows = bind.execute(
        sa.text(
            "SELECT s.token_sha256, s.complaint_id, c.round FROM survey_requests s "
            "JOIN callbacks c ON c.id = s.callback_id ORDER BY s.requested_at, s.token_sha256"
        )
    ).all()
    seen: set[tuple[uuid.UUID, int]] = set()
    for token_hash, complaint_id, round_ in rows:
        cycle = round_ or 1
        if (complaint_id, cycle) in seen:
            cycle = None
        else:
            seen.add((complaint_id, cycle))
        bind.execute(
            sa.text(
                "UPDATE survey_requests SET survey_id = :id, cycle = :cycle "
                "WHERE token_sha256 = :hash"
            ),
            {"id": legacy_survey_id(token_hash), "cycle": cycle, "hash": token_hash},
        )
    op.drop_constraint("pk_survey_requests", "survey_requests", type_="primary")
    op.drop_column("survey_requests", "token_sha256")
    op.alter_column("survey_requests", "survey_id", nullable=False)
    op.create_primary_key("pk_survey_requests", "survey_requests", ["survey_id"])
    op.create_unique_constraint(
        "uq_survey_requests_complaint_id_cycle", "survey_requests", ["complaint_id", "cycle"]
    )

    # Remedial call-backs named the survey by its token: name it by its id.
    for callback_id, origin in bind.execute(
        sa.text("SELECT id, origin FROM callbacks WHERE origin LIKE 'survey:%'")
    ).all():
        _, complaint_id, ref = origin.split(":", 2)
        if _is_uuid(ref):
            continue  # an answer without a survey: named by its event id already
        new = f"survey:{complaint_id}:{legacy_survey_id(token_sha256(ref))}"
        bind.execute(
            sa.text("UPDATE callbacks SET origin = :o WHERE id = :id"),
            {"o": new, "id": callback_id},
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
            sa.text("SELECT survey_id, cycle FROM survey_requests WHERE callback_id = :c"),
            {"c": data["callback_id"]},
        ).first()
        token = data.pop("survey_token")
        data["survey_id"] = str(found[0] if found else legacy_survey_id(token_sha256(token)))
        data["cycle"] = (found[1] if found else None) or 1
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

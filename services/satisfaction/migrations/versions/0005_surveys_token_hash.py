"""surveys named by survey_id (an existing one by its call-back) with only the token's
SHA-256 (existing tokens hashed), the invitation's expiry; answers name their survey and the
resolution cycle they measure, one per complaint and cycle; rollups count resolutions by
cycle

Existing answers of a complaint take its cycles 1, 2, ... in the order they were given, as
many as the complaint has had; answers beyond (a second answer of a cycle, which the old
rules let through) are kept with no cycle and no longer counted. The rollups gain columns
that old rows lack: run ``python -m services.satisfaction rederive`` once after upgrading.

Revision ID: surveys_token_hash
Revises: consumer_parked_events
Create Date: 2026-11-25 19:10:00
"""

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from shared.events.versions import legacy_survey_id, token_sha256

revision = "surveys_token_hash"
down_revision = "consumer_parked_events"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
CYCLE_COUNTERS = ["resolved_c1", "resolved_c2", "resolved_c3", "resolved_c4"]


def upgrade() -> None:
    bind = op.get_bind()
    for name, type_ in (
        ("survey_id", sa.UUID()), ("token_sha256", sa.Text()), ("cycle", sa.Integer()),
        ("invited_at", TS), ("expires_at", TS),
    ):  # fmt: skip
        op.add_column("surveys", sa.Column(name, type_))
    # Named by their call-back, as every reader names a version-1 survey (follow-up asked
    # one per call-back); one known by its token alone, by the token's hash.
    for token, callback_id in bind.execute(sa.text("SELECT token, callback_id FROM surveys")):
        token_hash = token_sha256(token)
        bind.execute(
            sa.text("UPDATE surveys SET survey_id = :id, token_sha256 = :h WHERE token = :t"),
            {"id": callback_id or legacy_survey_id(token_hash), "h": token_hash, "t": token},
        )

    op.add_column("answers", sa.Column("survey_id", sa.UUID()))
    op.add_column("answers", sa.Column("cycle", sa.Integer()))
    rows = bind.execute(
        sa.text(
            "SELECT a.answer_id, a.complaint_id, a.survey_token, s.survey_id, "
            "1 + GREATEST(f.case_reopens, f.followup_reopens, f.max_round - 1, 0) AS cycles "
            "FROM answers a LEFT JOIN facts f USING (complaint_id) "
            "LEFT JOIN surveys s ON s.token = a.survey_token "
            "ORDER BY a.complaint_id, a.recorded_at, a.answer_id"
        )
    ).all()
    given: dict[object, int] = defaultdict(int)
    for answer_id, complaint_id, token, survey_id, cycles in rows:
        given[complaint_id] += 1
        cycle = given[complaint_id] if given[complaint_id] <= (cycles or 1) else None
        if survey_id is None and token:
            survey_id = legacy_survey_id(token_sha256(token))
        bind.execute(
            sa.text("UPDATE answers SET survey_id = :s, cycle = :c WHERE answer_id = :a"),
            {"s": survey_id, "c": cycle, "a": answer_id},
        )
    op.drop_column("answers", "survey_token")
    op.create_unique_constraint(
        "uq_answers_complaint_id_cycle", "answers", ["complaint_id", "cycle"]
    )
    op.drop_constraint("pk_surveys", "surveys", type_="primary")
    op.drop_column("surveys", "token")
    op.alter_column("surveys", "survey_id", nullable=False)
    op.create_primary_key("pk_surveys", "surveys", ["survey_id"])
    op.create_unique_constraint("uq_surveys_token_sha256", "surveys", ["token_sha256"])
    for name in CYCLE_COUNTERS:
        op.add_column(
            "rollup_daily", sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    # The clear tokens are gone for good: the old key column comes back holding the hash.
    for name in CYCLE_COUNTERS:
        op.drop_column("rollup_daily", name)
    op.drop_constraint("uq_answers_complaint_id_cycle", "answers", type_="unique")
    op.add_column("answers", sa.Column("survey_token", sa.Text()))
    op.execute(
        "UPDATE answers a SET survey_token = s.token_sha256 FROM surveys s "
        "WHERE s.survey_id = a.survey_id"
    )
    op.drop_column("answers", "cycle")
    op.drop_column("answers", "survey_id")
    op.drop_constraint("uq_surveys_token_sha256", "surveys", type_="unique")
    op.drop_constraint("pk_surveys", "surveys", type_="primary")
    op.add_column("surveys", sa.Column("token", sa.Text()))
    op.execute("UPDATE surveys SET token = coalesce(token_sha256, survey_id::text)")
    op.alter_column("surveys", "token", nullable=False)
    op.create_primary_key("pk_surveys", "surveys", ["token"])
    for name in ("expires_at", "invited_at", "cycle", "token_sha256", "survey_id"):
        op.drop_column("surveys", name)

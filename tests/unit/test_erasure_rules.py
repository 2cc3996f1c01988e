"""What an erasure changes in each service's records: pure rules, no database."""

import uuid

from services.escalation.erasure import erased_step
from services.intake.domain.erasure import StoredComplaint, anonymised
from shared.events.common import ContactCard
from shared.privacy import ERASED_TEXT, is_erased, pseudonym_for, tombstone


def test_a_tombstone_keeps_the_tier_and_nothing_that_identifies():
    card = {"id": "c-1", "name": "李娜", "phone": "138", "email": "a@b.cn", "tier": "A",
            "address": "北京", "organisation": "X", "relation": "buyer"}  # fmt: skip
    erased = tombstone(card, "erased-1")
    assert erased == {"id": "erased-1", "tier": "A", "erased": True}
    assert is_erased(erased) and not is_erased(card)
    assert ContactCard.model_validate(erased).erased  # readers take it as a card


def test_the_pseudonym_is_per_erasure_and_not_derived_from_the_customer():
    one, two = uuid.uuid4(), uuid.uuid4()
    assert pseudonym_for(one) != pseudonym_for(two)
    assert pseudonym_for(one) == pseudonym_for(one)


def test_intake_keeps_the_figures_and_drops_the_personal_parts():
    stored = StoredComplaint(
        customer={"id": "c-1", "name": "李娜", "phone": "138", "tier": "VIP"},
        subject={"kind": "order", "reference": "SO-1", "purchased_on": "2026-11-01"},
        expected_outcome={"kind": "refund", "details": "call 138", "amount": 5.0},
    )
    changes = anonymised(stored, "erased-x")
    assert changes["customer"] == {"id": "erased-x", "tier": "VIP", "erased": True}
    assert changes["customer_id"] == "erased-x"
    assert changes["description"] == ERASED_TEXT and changes["documents"] == []
    assert changes["subject"] == {"kind": "order", "reference": None, "purchased_on": "2026-11-01"}
    assert changes["expected_outcome"] == {"kind": "refund", "details": None, "amount": 5.0}


def test_escalation_timeline_steps_lose_cards_and_free_text_not_facts():
    card = {"id": "c-1", "name": "李娜", "tier": "B"}
    resolved = {"resolution": "给李娜换新", "compensation": None, "by": "agent-1", "round": 1,
                "customer": card, "level": "frontline"}  # fmt: skip
    erased = erased_step("case.resolved", resolved, "erased-x")
    assert erased["resolution"] == ERASED_TEXT and erased["compensation"] is None
    assert erased["customer"] == {"id": "erased-x", "tier": "B", "erased": True}
    assert erased["by"] == "agent-1" and erased["level"] == "frontline"
    escalated = {"reason": "deadline", "to_level": "supervisor"}
    assert erased_step("case.escalated", escalated, "erased-x") == escalated


def test_intake_publishes_only_the_contact_data_consumers_need():
    from services.intake.usecases import published

    record = {"id": "c-1", "name": "李娜", "phone": "138", "email": None, "tier": "A",
              "organisation": "X Co", "address": "北京市朝阳区", "relation": "buyer"}  # fmt: skip
    sent = published(record).model_dump(mode="json", exclude_none=True)
    assert sent == {"id": "c-1", "name": "李娜", "phone": "138", "tier": "A"}

"""What erasure changes in a ledger entry and a kept summary. Pure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.ledger.domain.entry import LedgerEntry, fold
from services.ledger.domain.erasure import erase, summary_without

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def entry(**values) -> LedgerEntry:
    base = dict(
        complaint_id=uuid.uuid4(), customer_id="c-1", tier="A", subject_kind="order",
        subject_reference="SO-42", findings="seal torn, 李娜 says", plan="replace",
        resolution="replaced", compensation="voucher 50", resolved_at=NOW, round=2,
        satisfaction=[{"cycle": 1, "level": "neutral", "score": 4, "factors": [], "at": ""}],
    )  # fmt: skip
    return LedgerEntry(**(base | values))


def test_erasure_keeps_the_figures_and_drops_the_id_the_texts_and_the_order():
    e = entry()
    erase(e, "erased-x", NOW)
    assert (e.customer_id, e.erased_as, e.erased_at) == ("erased-x", "erased-x", NOW)
    assert (e.findings, e.plan, e.resolution, e.compensation) == ("[erased]",) * 4
    assert e.subject_reference is None and e.subject_kind == "order"
    assert (e.tier, e.resolved_at, e.round, e.satisfaction[0]["score"]) == ("A", NOW, 2, 4)


def test_a_site_is_no_personal_data_and_absent_texts_stay_absent():
    e = entry(subject_kind="site", subject_reference="store-42", plan=None)
    erase(e, "erased-x", NOW)
    assert e.subject_reference == "store-42" and e.plan is None


def test_erasing_twice_keeps_the_first_time():
    e = entry()
    erase(e, "erased-x", NOW)
    erase(e, "erased-x", datetime(2026, 12, 1, tzinfo=UTC))
    assert e.erased_at == NOW


def test_a_late_event_folded_into_an_erased_entry_is_erased_again():
    e = entry()
    erase(e, "erased-x", NOW)
    fold(e, "case.resolved", {"at": "2026-11-26T00:00:00+00:00", "resolution": "给李娜换新"})
    assert e.resolution == "给李娜换新"  # what fold does; the consumer erases again:
    erase(e, e.erased_as, NOW)
    assert e.resolution == "[erased]"


def test_a_summary_names_the_pseudonym_among_its_repeat_complainants():
    figures = {
        "volumes": {"total": 3},
        "repeat_complainants": {
            "customers": 2,
            "complaints": 4,
            "list": [
                {"customer_id": "c-1", "complaints": 2},
                {"customer_id": "c-2", "complaints": 2},
            ],
        },
    }
    out = summary_without(figures, "c-1", "erased-x")
    assert out["repeat_complainants"]["list"] == [
        {"customer_id": "erased-x", "complaints": 2}, {"customer_id": "c-2", "complaints": 2}
    ]  # fmt: skip
    assert (
        out["volumes"] == {"total": 3}
        and figures["repeat_complainants"]["list"][0]["customer_id"] == "c-1"
    )
    assert summary_without({"volumes": {}}, "c-1", "erased-x") == {"volumes": {}}

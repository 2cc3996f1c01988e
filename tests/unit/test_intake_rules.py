from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.intake.domain.rules import (
    IntakePolicy,
    acknowledge_by,
    assess,
    classify,
    invalidity,
    missing_contact,
)
from services.intake.domain.submission import ComplaintSubmission
from services.intake.settings import DEFAULT_MAJOR_KEYWORDS
from shared.events.common import Mode, Severity, Tier
from shared.events.intake import RejectionReason

POLICY = IntakePolicy(major_keywords=tuple(DEFAULT_MAJOR_KEYWORDS))
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def submission(**overrides) -> ComplaintSubmission:
    body = {
        "customer": {"id": "c-1", "name": "Li Na", "phone": "+86 10 1234 5678", "tier": "B"},
        "category": "product_quality",
        "description": "The kettle leaks.",
    } | overrides
    return ComplaintSubmission.model_validate(body)


class TestClassification:
    def test_plain_complaint_is_general(self):
        assert classify(submission(), POLICY) == (Severity.GENERAL, [])

    def test_given_severity_stands(self):
        s = submission(severity="general", description="The heater caught fire")
        assert classify(s, POLICY) == (Severity.GENERAL, ["given"])

    @pytest.mark.parametrize(
        ("description", "reason"),
        [
            ("The charger started to smoke and burn", "keyword:smoke"),
            ("冰箱起火了", "keyword:起火"),
            ("I will go to the newspaper about this", "keyword:newspaper"),
            ("记者已经联系我了", "keyword:记者"),
        ],
    )
    def test_keywords_make_it_major(self, description, reason):
        severity, reasons = classify(submission(description=description), POLICY)
        assert severity == Severity.MAJOR
        assert reason in reasons

    def test_flags_and_category_make_it_major(self):
        s = submission(category="safety", flags={"media_attention": True})
        severity, reasons = classify(s, POLICY)
        assert severity == Severity.MAJOR
        assert reasons == ["flag:media_attention", "category:safety"]

    def test_keywords_match_whatever_the_case(self):
        assert classify(submission(description="FIRE in the store"), POLICY)[0] == Severity.MAJOR


class TestValidity:
    def test_valid(self):
        assert invalidity(submission(), NOW) is None

    def test_litigation_comes_first(self):
        s = submission(in_litigation=True, expected_outcome={"kind": "damages"})
        assert invalidity(s, NOW) == RejectionReason.IN_LITIGATION

    def test_damages_claim(self):
        s = submission(expected_outcome={"kind": "damages", "amount": 5000})
        assert invalidity(s, NOW) == RejectionReason.DAMAGES_CLAIM

    def test_not_covered(self):
        assert invalidity(submission(covered=False), NOW) == RejectionReason.NOT_COVERED

    def test_past_warranty(self):
        s = submission(subject={"kind": "product", "warranty_until": "2026-03-01"})
        assert invalidity(s, NOW) == RejectionReason.OUT_OF_WARRANTY

    def test_last_day_of_warranty_is_still_covered(self):
        s = submission(subject={"kind": "product", "warranty_until": str(NOW.date())})
        assert invalidity(s, NOW) is None


class TestContact:
    def test_complete(self):
        assert missing_contact(submission().customer, POLICY) == []

    def test_email_instead_of_phone_is_enough(self):
        s = submission(customer={"name": "Li", "email": "li@example.com"})
        assert missing_contact(s.customer, POLICY) == []

    def test_missing_fields_are_named(self):
        s = submission(customer={"tier": "A"})
        assert missing_contact(s.customer, POLICY) == [
            "customer.name",
            "customer.phone|customer.email",
        ]


class TestAcknowledgement:
    def test_remote_two_hours(self):
        due = acknowledge_by(NOW, Mode.REMOTE, Tier.B, Severity.GENERAL, POLICY)
        assert due == NOW + timedelta(hours=2)

    def test_on_site_fifteen_minutes(self):
        due = acknowledge_by(NOW, Mode.ON_SITE, Tier.C, Severity.GENERAL, POLICY)
        assert due == NOW + timedelta(minutes=15)

    def test_vip_and_major_are_tighter(self):
        due = acknowledge_by(NOW, Mode.REMOTE, Tier.VIP, Severity.MAJOR, POLICY)
        assert due == NOW + timedelta(minutes=30)


class TestAssessment:
    def test_rejected_complaint_gets_no_deadline(self):
        found = assess(submission(in_litigation=True), Mode.REMOTE, NOW, POLICY)
        assert found.status == "rejected" and found.acknowledge_by is None

    def test_incomplete_complaint_waits_for_information(self):
        found = assess(submission(customer={"name": "Li"}), Mode.REMOTE, NOW, POLICY)
        assert found.status == "awaiting_information"
        assert found.missing_fields == ["customer.phone|customer.email"]
        assert found.acknowledge_by is None

    def test_complete_valid_complaint(self):
        found = assess(submission(), Mode.REMOTE, NOW, POLICY)
        assert found.status == "received"
        assert found.acknowledge_by == NOW + timedelta(hours=2)


class TestSubmissionValidation:
    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"customer": {"email": "not-an-address"}}, ("customer", "email")),
            ({"customer": {"phone": "call me"}}, ("customer", "phone")),
            ({"customer": {"tier": "Z"}}, ("customer", "tier")),
            ({"description": "   "}, ("description",)),
            ({"channel": "pigeon"}, ("channel",)),
            ({"severity": "urgent"}, ("severity",)),
            (
                {"subject": {"kind": "product", "purchased_on": "yesterday"}},
                ("subject", "purchased_on"),
            ),
            ({"unexpected": 1}, ("unexpected",)),
        ],
    )
    def test_errors_name_the_field(self, overrides, field):
        with pytest.raises(ValidationError) as caught:
            submission(**overrides)
        assert caught.value.errors()[0]["loc"] == field

    def test_unicode_description_is_kept(self):
        text = "洗衣机坏了，三次维修都没有修好。请尽快处理！🙏"
        assert submission(description=text).description == text

    def test_dates_parse(self):
        s = submission(subject={"kind": "order", "reference": "SO-1", "purchased_on": "2026-01-05"})
        assert s.subject is not None and s.subject.purchased_on == date(2026, 1, 5)

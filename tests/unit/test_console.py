"""The console's pure parts and its in-process guards (no service behind it is called)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from services.console.api.i18n import LOCALES
from services.console.app import create_app
from services.console.domain.actions import BY_NAME, body_of, offered
from services.console.domain.staff import StaffMember
from services.console.domain.work import QueueCase, QueueFilters, Urgency, by_nearest_deadline
from services.console.settings import ConsoleSettings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def case(cid: str, minutes: float | None, breached: bool = False) -> QueueCase:
    deadline = NOW + timedelta(minutes=minutes) if minutes is not None else None
    return QueueCase(cid, "open", "frontline", "B", "general", "billing", None, deadline,
                     breached, None, None, None)  # fmt: skip


def test_the_queue_is_ordered_by_the_nearest_deadline_each_case_once() -> None:
    mine = [case("a", 50), case("b", None)]
    team = [case("c", -5, breached=True), case("a", 50), case("d", 10)]
    assert [c.complaint_id for c in by_nearest_deadline(mine, team)] == ["c", "d", "a", "b"]


def test_urgency_by_the_warning_window() -> None:
    assert case("a", 50).urgency(NOW, 1800) is Urgency.OK
    assert case("a", 20).urgency(NOW, 1800) is Urgency.NEAR
    assert case("a", -1).urgency(NOW, 1800) is Urgency.BREACHED
    assert case("a", None).urgency(NOW, 1800) is Urgency.NONE
    assert case("a", None, breached=True).urgency(NOW, 1800) is Urgency.BREACHED


def test_filters_pass_to_the_api_blank_ones_left_out() -> None:
    parsed = QueueFilters.parse({"status": "open", "tier": "", "breached": "yes"})
    assert parsed.query() == {"status": "open", "breached": "true"}
    assert QueueFilters.parse({}).query() == {}


def test_only_the_actions_of_the_role_are_offered() -> None:
    agent = StaffMember("frontline-li", "Li Wei", ("agent",), ())
    supervisor = StaffMember("duty-wang", "Wang Fang", ("supervisor",), ())
    assert "end" not in {a.name for a in offered(agent)}
    assert {"end", "suspend", "handover"} <= {a.name for a in offered(supervisor)}
    form = {"reason": " why ", "to_person": "", "csrf_token": "x", "plan": "ignored"}
    assert body_of(BY_NAME["handover"], form) == {"reason": "why"}


def test_every_word_has_its_chinese() -> None:
    with (LOCALES / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    assert [m.id for m in catalog if m.id and not m.string] == []


def client(**settings: str) -> TestClient:
    return TestClient(create_app(ConsoleSettings(**settings)))


def test_pages_carry_a_strict_policy_and_no_inline_code() -> None:
    with client() as http:
        page = http.get("/embed/complaint")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # no inline script
    assert " style=" not in page.text and "<style" not in page.text
    assert page.headers["referrer-policy"] == "no-referrer"


def test_a_form_without_its_token_is_refused() -> None:
    with client() as http:
        http.get("/signin")
        refused = http.post("/language", data={"lang": "zh_CN"}, follow_redirects=False)
        assert refused.status_code == 403
        forged = http.post("/embed/complaint", data={"form_token": "x", "description": "d"})
        assert forged.status_code == 403


def test_the_language_chosen_is_remembered() -> None:
    with client() as http:
        page = http.get("/signin")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        http.post("/language", data={"lang": "zh_CN", "csrf_token": token, "next": "/signin"})
        assert "登录" in http.get("/signin").text
        assert 'lang="zh-CN"' in http.get("/embed/complaint").text


def test_staff_pages_need_a_sign_in() -> None:
    with client() as http:
        answer = http.get("/work", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/signin")


def test_a_call_outcome_in_the_api_s_terms() -> None:
    from services.console.domain.callbacks import FormProblem, outcome_body, reschedule_body

    unhappy = {"result": "not_satisfied", "customer_words": " still leaks ", "note": ""}
    assert outcome_body(unhappy) == {"reached": True, "satisfied": False,
                                     "customer_words": "still leaks"}  # fmt: skip
    assert outcome_body({"result": "not_reached", "customer_words": "x"}) == {"reached": False}
    for bad in ({}, {"result": "maybe"}):
        try:
            outcome_body(bad)
        except FormProblem as exc:
            assert exc.field == "result"
        else:
            raise AssertionError("accepted")
    moved = reschedule_body({"due_at": "2026-11-26T09:30", "reason": "at work"}, "Asia/Shanghai")
    assert moved == {"due_at": "2026-11-26T09:30:00+08:00", "reason": "at work"}


def test_a_call_back_shows_the_tier_that_orders_the_queue() -> None:
    from services.console.api.i18n import translations
    from services.console.api.pages import build_templates
    from services.console.domain.callbacks import CallbackTier

    lapsed = {"tier": "C", "tier_now": "C", "tier_before": "A", "queue_tier": "A"}
    assert CallbackTier.of(lapsed) == CallbackTier("A", "C")
    same = {"tier": "B", "tier_now": "B", "tier_before": None, "queue_tier": "B"}
    assert CallbackTier.of(same) == CallbackTier("B")
    assert CallbackTier.of({"tier": "VIP"}) == CallbackTier("VIP")  # an older follow-up

    shown = build_templates("Asia/Shanghai").env.from_string(
        '{% import "_callback_tier.html" as tier with context %}{{ tier.shown(cb) }}'
    )
    english = shown.render(_=translations("en").gettext, cb=lapsed)
    assert re.sub(r"<[^>]+>", "", english) == "A (now C)"
    chinese = shown.render(_=translations("zh_CN").gettext, cb=lapsed)
    assert re.sub(r"<[^>]+>", "", chinese) == "A (现为 C)"
    assert shown.render(_=translations("en").gettext, cb=same) == "B"


def test_production_wants_a_session_secret_a_provider_and_its_client_secret() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="CONSOLE_SESSION_SECRET"):
        ConsoleSettings(environment="production")
    with pytest.raises(ValidationError, match="CONSOLE_OIDC_ISSUER"):
        ConsoleSettings(environment="production", session_secret="x" * 32)
    production = {"environment": "production", "session_secret": "x" * 32,
                  "oidc_issuer": "https://login.example.com"}  # fmt: skip
    with pytest.raises(ValidationError, match="CONSOLE_OIDC_CLIENT_SECRET is a placeholder"):
        ConsoleSettings(**production, oidc_client_secret="change-me")
    kept = ConsoleSettings(**production, oidc_client_secret="s" * 24)
    assert "x" * 32 not in repr(kept) and "s" * 24 not in repr(kept)


def test_without_a_provider_the_sign_in_says_so() -> None:
    with client() as http:
        assert "CONSOLE_OIDC_ISSUER" in http.get("/signin").text
        assert http.get("/auth/login").status_code == 404
        assert http.get("/auth/callback?code=x&state=y").status_code == 404


def test_a_provider_that_does_not_answer_is_a_page_not_a_500() -> None:
    with client(oidc_issuer="http://127.0.0.1:9", oidc_client_secret="s" * 24) as http:
        page = http.get("/signin?next=/overview")
        assert 'href="/auth/login?next=/overview"' in page.text
        refused = http.get("/auth/login", follow_redirects=False)
        assert refused.status_code == 502 and "did not answer" in refused.text


def test_a_callback_this_session_did_not_start_is_refused() -> None:
    """No state in the session (a forged or replayed callback): refused before any code is
    exchanged, and nobody is signed in."""
    with client(oidc_issuer="http://127.0.0.1:9", oidc_client_secret="s" * 24) as http:
        answer = http.get("/auth/callback?code=stolen&state=forged")
        assert answer.status_code == 400 and "mismatching_state" in answer.text
        assert http.get("/work", follow_redirects=False).status_code == 303

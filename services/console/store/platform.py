"""The services' HTTP APIs, as the console calls them: with the signed-in person's bearer
token (staff), the web channel's API key (intake), or nothing but the link token (surveys).
Answers come back as JSON; a refusal as ``ApiError`` with the service's reason in words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from services.console.settings import ConsoleSettings


@dataclass
class ApiError(Exception):
    status: int
    message: str
    body: Any = None

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


def words(answer: httpx.Response) -> str:
    """The reason a service gave, in words: FastAPI's ``detail`` (a string, an object with a
    message, or a list of field errors: "field: problem")."""
    try:
        detail = answer.json().get("detail")
    except ValueError:
        return answer.reason_phrase or f"HTTP {answer.status_code}"
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            loc = [str(p) for p in item.get("loc", []) if p not in ("body", "query", "path")]
            parts.append(f"{'.'.join(loc) or 'request'}: {item.get('msg', '')}".strip())
        return "; ".join(parts)
    if isinstance(detail, dict):
        return str(detail.get("message") or detail.get("reason") or detail)
    return answer.reason_phrase or f"HTTP {answer.status_code}"


class Platform:
    def __init__(
        self, settings: ConsoleSettings, transport: httpx.AsyncBaseTransport | None = None
    ):
        self.settings = settings
        self.http = httpx.AsyncClient(timeout=settings.request_timeout_seconds, transport=transport)

    async def close(self) -> None:
        await self.http.aclose()

    def _service(self, url: str) -> str:
        for name in ("intake", "escalation", "followup", "satisfaction", "notify"):
            if url.startswith(getattr(self.settings, f"{name}_url")):
                return name
        return "a service"

    async def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            answer = await self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            service = self._service(url)
            raise ApiError(503, f"{service} did not answer ({type(exc).__name__})") from None
        if answer.status_code >= 400:
            try:
                body = answer.json()
            except ValueError:
                body = None
            raise ApiError(answer.status_code, words(answer), body)
        return answer.json() if answer.content else None

    @staticmethod
    def _bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    # -- staff: escalation --------------------------------------------------------------
    async def me(self, token: str) -> dict[str, Any]:
        return await self._call(
            "GET", f"{self.settings.escalation_url}/directory/me", headers=self._bearer(token)
        )

    async def teams(self, token: str) -> list[dict[str, Any]]:
        return await self._call(
            "GET", f"{self.settings.escalation_url}/directory/teams", headers=self._bearer(token)
        )

    async def cases(self, token: str, **params: str) -> list[dict[str, Any]]:
        page = await self._call(
            "GET",
            f"{self.settings.escalation_url}/cases",
            params=params | {"limit": "200"},
            headers=self._bearer(token),
        )
        return page["items"]

    async def all_cases(self, token: str, pages: int = 5) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``pages`` pages of 200 cases; the flag says whether that was all of them."""
        found: list[dict[str, Any]] = []
        cursor = None
        for _ in range(pages):
            params = {"limit": "200"} | ({"cursor": cursor} if cursor else {})
            page = await self._call("GET", f"{self.settings.escalation_url}/cases",
                                    params=params, headers=self._bearer(token))  # fmt: skip
            found += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return found, True
        return found, False

    async def sla(self, token: str) -> dict[str, Any]:
        return await self._call("GET", f"{self.settings.escalation_url}/stats/sla",
                                headers=self._bearer(token))  # fmt: skip

    async def satisfaction_summary(self, token: str) -> dict[str, Any]:
        return await self._call("GET", f"{self.settings.satisfaction_url}/reports/summary",
                                headers=self._bearer(token))  # fmt: skip

    async def case(self, token: str, complaint_id: str) -> dict[str, Any]:
        return await self._call(
            "GET",
            f"{self.settings.escalation_url}/cases/{complaint_id}",
            headers=self._bearer(token),
        )

    async def act(self, token: str, complaint_id: str, action: str, body: dict[str, str]) -> dict:
        url = f"{self.settings.escalation_url}/cases/{complaint_id}/{action}"
        return await self._call("POST", url, json=body, headers=self._bearer(token))

    # -- staff: follow-up and notify ----------------------------------------------------
    async def callbacks(self, token: str, **params: str) -> list[dict[str, Any]]:
        query = [("state", "due"), ("state", "overdue"), ("limit", "200")]
        page = await self._call(
            "GET",
            f"{self.settings.followup_url}/callbacks",
            params=query + list(params.items()),
            headers=self._bearer(token),
        )
        return page["items"]

    async def callback(self, token: str, callback_id: str) -> dict[str, Any]:
        return await self._call("GET", f"{self.settings.followup_url}/callbacks/{callback_id}",
                                headers=self._bearer(token))  # fmt: skip

    async def act_on_callback(
        self, token: str, callback_id: str, action: str, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        url = f"{self.settings.followup_url}/callbacks/{callback_id}/{action}"
        return await self._call("POST", url, json=body, headers=self._bearer(token))

    async def messages(self, token: str, complaint_id: str) -> list[dict[str, Any]]:
        page = await self._call(
            "GET",
            f"{self.settings.notify_url}/messages",
            params={"complaint_id": complaint_id, "limit": "200"},
            headers=self._bearer(token),
        )
        return page["items"]

    # -- intake (the web channel's key) -------------------------------------------------
    def _intake_key(self) -> dict[str, str]:
        return {"X-API-Key": self.settings.intake_api_key.get_secret_value()}

    async def complaint(self, complaint_id: str) -> dict[str, Any]:
        return await self._call(
            "GET",
            f"{self.settings.intake_url}/complaints/{complaint_id}",
            headers=self._intake_key(),
        )

    async def file_complaint(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        headers = self._intake_key() | {"Idempotency-Key": idempotency_key}
        return await self._call(
            "POST", f"{self.settings.intake_url}/complaints", json=body, headers=headers
        )

    # -- customers' survey links (the token is the credential) ------------------------------
    async def survey(self, token: str) -> dict[str, Any]:
        return await self._call("GET", f"{self.settings.satisfaction_url}/surveys/{token}")

    async def answer_survey(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call(
            "POST", f"{self.settings.satisfaction_url}/surveys/{token}", json=body
        )

    # -- customers' own links ("My complaint"; the token is the credential) ------------------
    # The token goes in a header, not in intake's URL: it stays out of any proxy's log.
    async def my_complaint(self, token: str) -> dict[str, Any]:
        return await self._call(
            "GET",
            f"{self.settings.intake_url}/my-complaint",
            headers={"X-Complaint-Link": token},
        )

    async def complete_my_contact(self, token: str, body: dict[str, str]) -> dict[str, Any]:
        return await self._call(
            "POST",
            f"{self.settings.intake_url}/my-complaint/contact",
            json=body,
            headers={"X-Complaint-Link": token},
        )

"""The channels: e-mail over SMTP (aiosmtplib), signed JSON webhooks (staff's chat tools and
pagers) and the SMS gateway (a signed JSON POST ``{to, text}``). Each raises ``DeliveryError``
saying whether trying again can help; an address never appears in what they raise or log."""

from __future__ import annotations

import json
import time
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiosmtplib
import httpx

from services.notify.domain import signature
from services.notify.settings import NotifySettings
from shared.logs import redact

MESSAGE_ID_DOMAIN = "notify.complaint-platform"


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def describe(exc: BaseException) -> str:
    """The error's type and a redacted message, short: no addresses, no phone numbers."""
    return redact(f"{type(exc).__name__}: {exc}")[:500]


class Senders:
    def __init__(self, settings: NotifySettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self.secret = settings.webhook_secret.get_secret_value().encode()

    async def email(self, message: dict[str, Any], to: str) -> None:
        mail = EmailMessage()
        mail["From"] = self.settings.mail_from
        mail["To"] = to
        mail["Subject"] = message["subject"]
        mail["Date"] = formatdate(localtime=False)
        # A stable id: a receiver (or the test's mail sink) can tell a redelivery apart.
        mail["Message-ID"] = f"<{message['id']}@{MESSAGE_ID_DOMAIN}>"
        mail["X-Complaint-Id"] = str(message["complaint_id"] or "")
        mail["X-Template"] = message["template"]
        mail.set_content(message["body_text"])
        if message["body_html"]:
            mail.add_alternative(message["body_html"], subtype="html")
        password = self.settings.smtp_password
        try:
            await aiosmtplib.send(
                mail,
                hostname=self.settings.smtp_host,
                port=self.settings.smtp_port,
                username=self.settings.smtp_username,
                password=password.get_secret_value() if password else None,
                start_tls=self.settings.smtp_starttls,
                use_tls=self.settings.smtp_use_tls,
                timeout=self.settings.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(describe(exc), permanent=True) from None
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx: the server will not take it, now or later; 4xx: try again.
            raise DeliveryError(describe(exc), permanent=exc.code >= 500) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(describe(exc)) from None

    async def webhook(self, message: dict[str, Any], url: str) -> None:
        payload = {
            "message_id": str(message["id"]),
            "template": message["template"],
            "complaint_id": str(message["complaint_id"]) if message["complaint_id"] else None,
            "recipient": message["recipient"],
            "subject": message["subject"],
            "text": message["body_text"],
        }
        await self._post(url, payload, message)

    async def sms(self, message: dict[str, Any], to: str) -> None:
        if not self.settings.sms_gateway_url:
            raise DeliveryError(
                "no SMS gateway configured (NOTIFY_SMS_GATEWAY_URL)", permanent=True
            )
        text = message["body_sms"] or message["subject"]
        await self._post(self.settings.sms_gateway_url, {"to": to, "text": text}, message)

    async def _post(self, url: str, payload: dict[str, Any], message: dict[str, Any]) -> None:
        if not self.secret:
            raise DeliveryError("NOTIFY_WEBHOOK_SECRET is not set: nothing is sent unsigned",
                                permanent=True)  # fmt: skip
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            signature.HEADER: signature.sign(self.secret, int(time.time()), body),
            "X-Message-Id": str(message["id"]),  # an idempotency key for the receiver
        }
        try:
            answer = await self.http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: the receiver did not answer") from None
        if answer.is_success:
            return
        # 4xx (but a timeout or a rate limit) will not get better by trying again.
        permanent = 400 <= answer.status_code < 500 and answer.status_code not in (408, 429)
        raise DeliveryError(f"HTTP {answer.status_code} from the receiver", permanent=permanent)

"""A complaint as a channel submits it. Validation here is the 422 contract: every error names
its field."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from shared.events.common import Channel, Severity, Tier
from shared.events.intake import Document, ExpectedOutcome, Subject
from shared.web.types import IsoDate

# What the error message promises: an optional leading +, then digits, spaces, dashes,
# brackets, dots or slashes ("(010) 6552-9988", "+86 (0)10 6552 9988"), with 5 to 20 digits.
_PHONE = re.compile(r"^\+?[0-9 ()./-]+$")
_PHONE_DIGITS = range(5, 21)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def check_phone(value: str | None) -> str | None:
    if value is not None and (
        not _PHONE.match(value) or sum(c.isdigit() for c in value) not in _PHONE_DIGITS
    ):
        raise ValueError(
            "not a phone number (an optional leading +, then 5 to 20 digits with spaces, "
            "-, brackets, dots or slashes)"
        )
    return value


def check_email(value: str | None) -> str | None:
    if value is not None and not _EMAIL.match(value):
        raise ValueError("not an e-mail address")
    return value


# A customer's phone and e-mail, on the channel's path and on the customer's own link alike.
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=30), AfterValidator(check_phone)
]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(check_email)
]


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Text | None = None
    name: Text | None = None
    phone: Phone | None = None
    email: Email | None = None
    tier: Tier = Tier.C
    organisation: Text | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    relation: Text | None = None


class ContactIn(BaseModel):
    """What a customer supplies through their own link: contact data, nothing else (their
    tier or id are not theirs to set). The same checks as the channel's path."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = None
    phone: Phone | None = None
    email: Email | None = None


class SubjectIn(Subject):
    """The event's Subject with its dates as ISO 8601 text only (no Unix times)."""

    purchased_on: IsoDate | None = None
    delivered_on: IsoDate | None = None
    incident_on: IsoDate | None = None
    warranty_until: IsoDate | None = None


class Flags(BaseModel):
    """What the receiver observed; any of these makes a complaint major (DOMAIN.md)."""

    model_config = ConfigDict(extra="forbid")

    safety_issue: bool = False
    main_function_defect: bool = False
    media_attention: bool = False
    evidence_insufficient: bool = False


class ComplaintSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: CustomerIn
    channel: Channel | None = Field(
        default=None, description="Defaults to the channel of the API key; must match it"
    )
    category: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)
    ]
    severity: Severity | None = Field(default=None, description="Omit to classify by the rules")
    subject: SubjectIn | None = None
    expected_outcome: ExpectedOutcome | None = None
    # Factories, not instances: pydantic deep-copies a default instance on every request.
    documents: list[Document] = Field(default_factory=list, max_length=50)
    in_litigation: bool = False
    covered: bool = Field(default=True, description="False when outside the company's commitments")
    flags: Flags = Field(default_factory=Flags)

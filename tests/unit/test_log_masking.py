"""The log masking (the last line of defence) and the safe description of exceptions."""

import io
import json
import logging
import uuid

import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError

from shared.logs import JsonFormatter, describe_error, format_exception, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("call 139/0024/4809 please", "0024/4809"),
        ("电话132448088877", "132448088877"),
        ("tel15902448012", "15902448012"),
        ("Tel:+86-10-6552-1234", "6552-1234"),
        ("手机：138 0013 8000。", "0013 8000"),
        ("phone (010) 6552.1234,", "6552.1234"),
        ("+44 20 7946 0958", "7946 0958"),
        ("１３８００１３８０００", "１３８００１３８０００"),  # full-width digits
    ],
)
def test_phone_numbers_in_every_format_are_masked(text, secret):
    masked = redact(text)
    assert secret not in masked
    assert "***" in masked


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("write to 李娜@例子.中国 today", "李娜@"),
        ("mail josé.garcía@exämple.de", "josé.garcía@"),
        ("用户名zhang.wei@example.com.cn", "zhang.wei@"),
        ('{"email": "a.b+c@sub.example.org"}', "a.b+c@"),
    ],
)
def test_internationalised_email_addresses_are_masked(text, secret):
    assert secret not in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "complaint 12345678-1234-4234-9234-123456789012 recorded",
        f"event {uuid.UUID(int=2**127 + 12345)}",
        "digest 3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b",
        "at 2026-11-25T18:29:10.123456+00:00 and 2026-11-25 08:00",
        "on 2026/11/25",
        "database at 127.0.0.1:54320",
        "order 12345 of 2026-11-23",
    ],
)
def test_ids_dates_and_addresses_of_machines_stay_readable(text):
    assert redact(text) == text


def test_masked_values_stay_distinguishable():
    assert redact("13800138000") == "***00"
    assert redact("li.na@example.com") == "l***@example.com"
    assert redact("电话132448088877") == "电话***77"


class _Card(BaseModel):
    phone: int


def test_validation_errors_are_described_by_field_not_input():
    with pytest.raises(ValidationError) as caught:
        _Card.model_validate({"phone": "Li Na 13800138000"})
    described = describe_error(caught.value)
    assert "phone" in described
    assert "Li Na" not in described and "13800138000" not in described


class _FakeOrig(Exception):
    sqlstate = "22P02"


def test_database_errors_are_described_by_type_and_sqlstate():
    orig = _FakeOrig('invalid input syntax for type json DETAIL: Token "Li Na" is invalid.')
    exc = DBAPIError("INSERT INTO complaints VALUES ($1)", {"name": "Li Na"}, orig)
    described = describe_error(exc)
    assert described == "DBAPIError: _FakeOrig (SQLSTATE 22P02)"


def test_logged_exceptions_show_frames_not_messages():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.pii.exceptions")
    logger.addHandler(handler)
    logger.propagate = False
    card = {"phone": "Wang" + " Fang"}  # not a literal: tracebacks quote source lines
    try:
        try:
            _Card.model_validate(card)
        except ValidationError as exc:
            raise RuntimeError("while storing the complaint") from exc
    except RuntimeError as exc:
        logger.exception("failed", extra={"error": exc})
        text = format_exception(exc)
    line = json.loads(stream.getvalue())
    assert "Wang Fang" not in line["exception"] and "Wang Fang" not in text
    assert "test_log_masking.py" in line["exception"]
    assert "ValidationError: 1 error(s) at phone" in line["exception"]
    assert "direct cause" in line["exception"]
    assert line["error"].startswith("RuntimeError")


def test_json_log_line_masks_message_and_extra_fields():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.pii.extra")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning(
        "customer %s wrote", "李娜@例子.中国", extra={"customer": {"tel": "tel15902448012"}}
    )
    line = json.loads(stream.getvalue())
    assert "李娜@" not in line["message"]
    assert line["customer"]["tel"] == "tel***12"


def test_other_errors_keep_their_redacted_message():
    from sqlalchemy.exc import NoResultFound

    assert describe_error(NoResultFound("No row was found")) == "NoResultFound: No row was found"
    assert describe_error(KeyError("tier")) == "KeyError: 'tier'"
    assert describe_error(ValueError("call 13800138000")) == "ValueError: call ***00"

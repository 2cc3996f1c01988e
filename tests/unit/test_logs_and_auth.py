import io
import json
import logging

import pytest

from shared.logs import JsonFormatter, redact
from shared.web.auth import identify, parse_credentials


@pytest.mark.parametrize(
    "text",
    [
        "call +86 138 0013 8000 now",
        "phone: (010) 6552-1234",
        "mail li.na@example.com.cn please",
        "13800138000",
    ],
)
def test_contact_data_is_masked(text):
    masked = redact(text)
    assert "138 0013" not in masked and "6552-1234" not in masked
    assert "li.na@" not in masked and "13800138000" not in masked


def test_masked_values_stay_distinguishable():
    assert redact("13800138000") == "***00"
    assert redact("li.na@example.com") == "l***@example.com"


def test_short_numbers_are_left_alone():
    assert redact("order 12345 of 2026-11-23") == "order 12345 of 2026-11-23"


def test_json_log_line_masks_message_and_extra_fields():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.pii")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning(
        "customer %s wrote", "a@b.example", extra={"customer": {"phone": "+44 20 7946 0958"}}
    )
    line = json.loads(stream.getvalue())
    assert line["message"] == "customer a***@b.example wrote"
    assert line["customer"]["phone"] == "***58"
    assert line["level"] == "WARNING"


def test_credentials_parse_and_identify():
    creds = parse_credentials("web:K1, hotline:K2,web:K3")
    assert identify("K2", creds) == "hotline"
    assert identify("K3", creds) == "web"
    assert identify("nope", creds) is None
    assert identify(None, creds) is None


def test_malformed_credentials_are_refused():
    with pytest.raises(ValueError, match="name:secret"):
        parse_credentials("web=K1")

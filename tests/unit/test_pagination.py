import uuid
from datetime import UTC, datetime

import pytest
from fastapi.exceptions import RequestValidationError

from shared.web.pagination import cursor_param, decode_cursor, encode_cursor

AT = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)


def test_cursor_round_trip():
    some_id = uuid.uuid4()
    cursor = encode_cursor(AT, 2, some_id)
    assert decode_cursor(cursor, datetime.fromisoformat, int, uuid.UUID) == (AT, 2, some_id)


@pytest.mark.parametrize("bad", ["garbage", "", "!!!", encode_cursor(AT, 2)])
def test_foreign_cursors_are_refused(bad):
    with pytest.raises(ValueError, match="not a valid cursor"):
        decode_cursor(bad, datetime.fromisoformat, int, uuid.UUID)


def test_a_bad_cursor_parameter_is_a_422_naming_it():
    assert cursor_param(None, int) is None
    with pytest.raises(RequestValidationError) as caught:
        cursor_param("garbage", int)
    assert caught.value.errors()[0]["loc"] == ("query", "cursor")

"""Request bytes to values: a JSON body and an event id, each refused with a clear error rather than a 500.

JSON is UTF-8 (RFC 8259 section 8.1): a body that declares another charset is refused as an unsupported media
type, one that is not UTF-8 is a bad request. Nesting is bounded before the parser runs (the parser recurses, and
the models and the stored JSON of ``extra_vars`` would recurse after it), by a scan that does not recurse itself.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from app.errors import InvalidInput, UnsupportedMediaType

MAX_JSON_DEPTH: Final = 64
# The charset values that mean UTF-8; any other is refused, whatever the bytes.
UTF8_NAMES: Final = frozenset({"utf-8", "utf8"})
# A JSON string (brackets inside it do not nest), and a run of anything but brackets. Possessive, so an unclosed
# string costs one pass, not a backtrack per character; both are removed in C before Python counts brackets.
_STRING: Final = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS: Final = re.compile(r"[^\[\]{}]++")
# Event ids are output chunk sequence numbers, an INTEGER column (32 bits on PostgreSQL): none is larger.
MAX_EVENT_ID: Final = 2**31 - 1
_EVENT_ID: Final = re.compile(r"[0-9]{1,10}")


class _NotJsonNumber(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    # Python's parser accepts NaN and Infinity; JSON does not, and a float field would keep them.
    raise _NotJsonNumber(name)


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    depth = 0
    for bracket in _NOT_BRACKETS.sub("", _STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def decode_json_body(raw: bytes, charset: str | None) -> Any:
    """The value of a JSON request body; ``charset`` is the Content-Type's parameter, if any."""
    if charset is not None and charset.strip().strip('"').lower() not in UTF8_NAMES:
        raise UnsupportedMediaType("request body: JSON must be UTF-8 (send Content-Type: application/json)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"request body: not valid UTF-8 (byte {error.start}); JSON must be UTF-8") from error
    if json_depth_exceeds(text):
        raise InvalidInput(f"request body: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except _NotJsonNumber as error:
        raise InvalidInput("request body: not valid JSON (NaN and Infinity are not JSON numbers)") from error
    except (ValueError, RecursionError) as error:
        raise InvalidInput("request body: not valid JSON") from error


def event_id(raw: str) -> int:
    """A resume point: the id of an output event, 0 to ``MAX_EVENT_ID``, in ASCII digits."""
    if not _EVENT_ID.fullmatch(raw) or int(raw) > MAX_EVENT_ID:
        raise InvalidInput(f"last_event_id: must be the id of an output event (a whole number, 0 to {MAX_EVENT_ID})")
    return int(raw)

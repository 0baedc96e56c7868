"""Which fields of a trigger's JSON body become which parameters of its template: pure functions.

A mapping names, per parameter, a path into the body: dot-separated keys, a number stepping into a list
(``repository.name``, ``commits.0.id``). A parameter without a mapping takes the body's top-level field of its own
name, when there is one. A field that is absent or null leaves the parameter to its default; an object or a list
where a value is expected is refused (InvalidInput naming the parameter and the path).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from app.errors import InvalidInput

MAX_MAPPINGS: Final = 100
_ABSENT: Final = object()


def _lookup(body: object, path: str) -> object:
    found: object = body
    for segment in path.split("."):
        if isinstance(found, Mapping):
            if segment not in found:
                return _ABSENT
            found = found[segment]
        elif isinstance(found, list) and segment.isdigit():
            index = int(segment)
            if index >= len(found):
                return _ABSENT
            found = found[index]
        else:
            return _ABSENT
    return found


def values_from_body(
    body: Mapping[str, object], parameters: Iterable[str], mapping: Mapping[str, str]
) -> dict[str, object]:
    """The launch values: for each of the template's parameters, its mapped (or same-named) field's value."""
    values: dict[str, object] = {}
    for name in parameters:
        path = mapping.get(name, name)
        found = _lookup(body, path) if name in mapping else body.get(name, _ABSENT)
        if found is _ABSENT or found is None:
            continue
        if isinstance(found, Mapping | list):
            raise InvalidInput(f"{name}: the body's {path} is an object or a list, not a value")
        values[name] = found
    return values

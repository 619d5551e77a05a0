"""Writing values into the study TOML with tomlkit, keeping the file's own formatting."""

from __future__ import annotations

from typing import Any

import tomlkit
from tomlkit.items import AoT, Table


MISSING = object()


def plain(value: Any) -> Any:
    return value.unwrap() if hasattr(value, "unwrap") else value


def toml_item(value: Any) -> Any:
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        for k, v in value.items():
            table[k] = toml_item(v)
        return table
    if isinstance(value, list):
        arr = tomlkit.array()
        arr.extend(value)
        if len(value) > 6 and all(isinstance(v, str) for v in value):
            arr.multiline(True)
        return arr
    if isinstance(value, str) and "\n" in value:
        return tomlkit.string(value, multiline=True)
    return value


def put(table: Any, key: str, value: Any, *, default: Any = MISSING) -> None:
    """Set ``key``; unchanged values keep their item (and formatting); None deletes.

    A value equal to ``default`` is only written when the key is already in the file.
    """
    if value is None:
        if key in table:
            del table[key]
        return
    if key in table:
        if plain(table[key]) == value and type(plain(table[key])) is type(value):
            return
        table[key] = toml_item(value)
        return
    if default is not MISSING and value == default:
        return
    table[key] = toml_item(value)


def get_table(doc: Any, key: str) -> Any:
    if key not in doc or not isinstance(doc[key], (Table, dict)):
        if key in doc:
            del doc[key]
        doc[key] = tomlkit.table()
    return doc[key]


def put_tables(doc: Any, key: str, wanted: list[dict[str, Any]]) -> bool:
    """Write ``[[key]]``: one table per dict of ``wanted``; an unchanged list keeps its formatting, a changed one
    is rewritten in place (where the file has it), none deletes it. True when ``key`` was newly added to ``doc``
    (the caller may then move the tables that should come after it)."""
    current = doc.get(key)
    if not wanted:  # the validator then says what a study needs here
        if current is not None:
            del doc[key]
        return False
    if current is not None and plain(current) == wanted:
        return False
    in_place = isinstance(current, AoT)
    if in_place:
        aot = current
        while len(aot):
            del aot[0]
    else:
        if current is not None:
            del doc[key]
        aot = tomlkit.aot()
    for entry in wanted:
        table = tomlkit.table()
        for k, v in entry.items():
            table[k] = toml_item(v)
        if in_place:  # a fresh document spaces its tables itself
            table.add(tomlkit.nl())
        aot.append(table)
    if key in doc:
        return False
    doc[key] = aot
    return True

"""Writing values into the study TOML with tomlkit, keeping the file's own formatting."""

from __future__ import annotations

from typing import Any

import tomlkit
from tomlkit.items import Table


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

"""The column names of a CSV or Parquet dataset, read from its header alone, for the column pickers.

Run off the GUI thread (the wizard's ``background``). Only the header is read: a large table costs
no more than a small one. Reads the file the way the engine's loader will (pandas' CSV defaults,
Parquet's schema), so the names offered are the names the study will find.
"""

from __future__ import annotations

from pathlib import Path

from engine.core.errors import DataError
from engine.core.sources import parse_source


def _looks_like_a_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def table_columns(source: str, root: str) -> list[str] | None:
    """Column names of a ``csv:`` or ``parquet:`` source (relative paths resolve in ``root``); None
    when there is no such file (the study's own source check says so, once).

    Raises DataError with one plain sentence when the file cannot be read or has no header line.
    """
    src = parse_source(source, kind="data")
    path = src.path(Path(root))
    name = path.name
    if not path.is_file():
        return None
    if src.scheme == "parquet":
        import pyarrow.parquet as pq

        try:
            return [str(c) for c in pq.read_schema(path).names]
        except PermissionError:
            raise DataError(f"{name} cannot be read: permission denied.") from None
        except Exception as exc:  # pyarrow raises several error types for damaged files
            raise DataError(f"{name} could not be read as a Parquet file ({exc}).") from None
    import pandas as pd

    try:
        header = pd.read_csv(path, nrows=0)
        first = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    except PermissionError:
        raise DataError(f"{name} cannot be read: permission denied.") from None
    except UnicodeDecodeError:
        raise DataError(f"{name} is not a text file in UTF-8; save it as UTF-8 CSV.") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name} is empty: it has no header line and no rows.") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise DataError(f"{name} could not be read as CSV ({exc}).") from None
    columns = [str(c) for c in header.columns]
    raw = [str(v).strip() for v in first.iloc[0]] if len(first) else []
    if raw and all(_looks_like_a_number(v) for v in raw):
        shown = ", ".join(raw[:3]) + (", …" if len(raw) > 3 else "")
        raise DataError(f"The first line of {name} holds values ({shown}), not column names: add a header line "
                        "that names each column, e.g. height,weight,label.")
    return columns

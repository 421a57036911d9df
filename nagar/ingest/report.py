"""How the CLI loaders (``nagar ingest``, ``nagar water load``) report rejected rows, and their exit status.

One convention, so that a script can tell a clean load from a partial one:

* 0: every row of the file was stored (an empty file too);
* 3: some rows were rejected, the others were stored (the rejected ones are listed with their file line);
* 1: every row was rejected (nothing stored);
* 2: the command could not run (unreadable or unrecognised file, bad option, no database): nothing read.
"""

from __future__ import annotations

from typing import Iterable

from rich.markup import escape
from rich.table import Table

EXIT_OK = 0
EXIT_ALL_REJECTED = 1
EXIT_ERROR = 2
EXIT_SOME_REJECTED = 3

EXIT_STATUS_HELP = ("Exit status: 0 every row stored; 3 some rows rejected (listed with their line; the others "
                    "stored); 1 every row rejected; 2 the command could not run.")


def exit_status(*, received: int, rejected: int) -> int:
    """The loader's exit status for ``received`` rows of which ``rejected`` were refused (module docstring)."""
    if rejected <= 0:
        return EXIT_OK
    return EXIT_ALL_REJECTED if rejected >= received else EXIT_SOME_REJECTED


def rejected_table(errors: Iterable, *, total: int, limit: int, label: str = "line") -> Table | None:
    """The first ``limit`` rejections (objects or dicts with ``index`` = file line, ``field``, ``reason``) as
    a table titled with how many there are in all (``label`` heads the line column: "row" for Parquet);
    ``None`` when there are none or ``limit`` is 0."""
    rows = []
    for e in errors:
        if len(rows) >= limit:
            break
        rows.append(e if isinstance(e, dict) else {"index": e.index, "field": e.field, "reason": e.reason})
    if not rows:
        return None
    shown = f"first {len(rows)} of {total:,}" if total > len(rows) else f"{total:,}"
    t = Table(title=f"Rejected rows ({shown})")
    t.add_column(label, justify="right")
    t.add_column("field")
    t.add_column("reason")
    for r in rows:
        t.add_row(str(r["index"]), escape(str(r["field"])), escape(str(r["reason"])))
    return t

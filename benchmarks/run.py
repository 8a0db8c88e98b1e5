"""All benchmarks, one table: ``python -m benchmarks.run``.

Every row is measured against a peer in the same run, on this machine, over 127.0.0.1
only; every loop is bounded in count and in time, and the run stops by itself. Figures
are never asserted in tests. Each run prints the table and writes it to
``benchmarks/results/latest.json`` beside ``latest.png``, a chart of the ratios.
"""

from __future__ import annotations

import os

from . import (
    emits,
    facade,
    fleet_waits,
    inflight,
    inspector,
    instructions,
    sandbox,
    schedules,
    summaries,
    waits,
)
from ._common import CannedServer, machine
from ._table import Row, print_table, save


def main() -> None:
    where = machine()
    print(f"machine: {where}")
    server = CannedServer()
    os.environ["SSL_CERT_FILE"] = server.ca  # both clients trust the benchmark CA
    rows: list[Row] = []
    try:
        rows.extend(emits.rows(server))
        rows.extend(instructions.rows(server))
        rows.extend(inflight.rows(server))
        rows.extend(facade.rows())
        rows.extend(waits.rows())
        rows.extend(fleet_waits.rows())
        rows.extend(sandbox.rows())
        rows.extend(inspector.rows())
        rows.extend(summaries.rows())
    finally:
        server.close()
    print_table(rows)
    table, chart = save(rows, where)
    print(f"wrote {table} and {chart}")
    print(f"wrote {schedules.main()} (the waiter's schedules, polls against lag)")


if __name__ == "__main__":
    main()

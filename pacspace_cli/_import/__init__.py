"""``pacspace import FILE``: backfill usage from a CSV or JSON Lines file.

The rule: after any sequence of runs on a file, the service holds exactly what the file
says now, or the run refuses before sending anything and names the lines.

A run reads the whole file first (``_read``), names each line by what it is (``_identity``)
and compares it with what earlier runs recorded (``_progress``): lines recorded before are
skipped, lines that cannot be read are named, and lines recorded before that the file no
longer holds (deleted, or changed in place) stop the run, or, with ``--reconcile``, are
reversed first. Then the new lines are sent (``_send``), with progress on the screen and a
table at the end (``_display``).
"""

from __future__ import annotations

from ._send import run

__all__ = ["run"]

"""The processes of a session: what a daemon started in its own session left running."""

from __future__ import annotations

from pathlib import Path


def session_processes(session_id: int) -> list[int]:
    """The live processes (zombies aside) of the session *session_id* leads, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        state, session = fields[0], int(fields[3])
        if session == session_id and state != "Z":
            found.append(int(stat.parent.name))
    return found

"""When the soak run breaks what: the schedule of a 30-minute run, scaled to the run's length.

| fault | 30-minute run | what happens |
|---|---|---|
| redis | at 5:00, 60 s | redis-server SIGKILLed, restarted on the same port |
| database | at 12:00, 30 s | the PostgreSQL relay drops every connection and refuses new ones |
| web_worker | at 18:00 | one gunicorn worker SIGKILLed; the master starts another |
| celery_worker | at 22:00, 30 s | the Celery worker SIGKILLed, started again after the pause |

The last quarter of the run is quiet: whatever a fault broke has to have healed by then.
Shorter runs scale every time down, with floors on the outages so each still outlasts the
server's own retry and back-off intervals.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

FULL_RUN_SECONDS = 30 * 60


@dataclass(frozen=True)
class Fault:
    name: str
    at: float  # seconds after the traffic starts
    seconds: float  # how long the part stays away (0: the fault is instantaneous)


# (name, at in a 30-minute run, seconds away in a 30-minute run, floor on seconds away)
FULL_SCHEDULE = (
    ("redis", 5 * 60, 60, 10),
    ("database", 12 * 60, 30, 5),
    ("web_worker", 18 * 60, 0, 0),
    ("celery_worker", 22 * 60, 30, 5),
)


def schedule(minutes: float) -> list[Fault]:
    """The faults of a run of `minutes`, in order.

    Raises ValueError when the run is too short to fit them with time to heal."""
    scale = minutes * 60 / FULL_RUN_SECONDS
    faults = [
        Fault(name, round(at * scale, 1), float(max(seconds * scale, floor)))
        for name, at, seconds, floor in FULL_SCHEDULE
    ]
    for earlier, later in itertools.pairwise(faults):
        if earlier.at + earlier.seconds >= later.at:
            raise ValueError(
                f"{minutes} minutes is too short: {earlier.name} would still be down when "
                f"{later.name} starts (use --minutes 2 or more)"
            )
    return faults

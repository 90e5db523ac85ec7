"""The soak run's judgement: pure functions over what the clients saw and what the server
holds at the end, so the rules can be read (and unit-tested) without a stack running.

Rules:
- every acknowledged write (2xx to POST/PUT/PATCH/DELETE) is in the end state: each resource
  is in its last acknowledged state, or in the state a later *unacknowledged* write (no
  answer, a 5xx) asked for, since that write may have committed before its answer was lost;
- nothing is present that no client created;
- no 5xx other than 503, ever; no 503 outside a database cut (plus a grace period); no
  request without an answer outside a web-worker kill (plus the grace period);
- reads agree with acknowledged writes while they are not in doubt.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# A resource's state as compared at the end: ("absent",) or ("present", …tracked values).
State = tuple[Any, ...]
ABSENT: State = ("absent",)

# Which fault excuses what: a database cut may answer 503; a killed web worker may drop the
# requests it was serving. Redis and the Celery worker going away may cost SCIM nothing.
EXCUSES: dict[str, set[int]] = {"database": {503}, "web_worker": {0}}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Call:
    """One HTTP request as the client saw it; times in seconds from the start of the run,
    status 0 when no answer came (connection refused or dropped, timeout)."""

    started: float
    ended: float
    method: str
    label: str
    status: int


@dataclass(frozen=True)
class Window:
    """A fault, from when it was injected to when the stack was whole again."""

    fault: str
    start: float
    end: float


@dataclass
class Expected:
    """What one resource should look like at the end. `candidates[0]` is the last
    acknowledged state; the rest are states asked for by unacknowledged writes since."""

    company: str
    kind: str  # "User" or "Group"
    id: str
    name: str
    candidates: list[State]

    def acknowledge(self, state: State) -> None:
        self.candidates = [state]

    def in_doubt(self, state: State) -> None:
        if state not in self.candidates:
            self.candidates.append(state)

    @property
    def doubtful(self) -> bool:
        return len(self.candidates) > 1


@dataclass
class Verdict:
    counts: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def excused(call: Call, windows: list[Window], grace: float) -> bool:
    """True when a fault in progress while `call` ran excuses its status."""
    return any(
        call.status in EXCUSES.get(window.fault, set())
        and call.started <= window.end + grace
        and call.ended >= window.start
        for window in windows
    )


def judge_calls(calls: list[Call], windows: list[Window], grace: float) -> Verdict:
    """Count answers by status and by fault, and name every answer no fault excuses."""
    verdict = Verdict()
    by_status = Counter(str(call.status) for call in calls)
    writes = [call for call in calls if call.method in WRITE_METHODS]
    unexcused = [
        call
        for call in calls
        if (call.status >= 500 or call.status == 0) and not excused(call, windows, grace)
    ]
    during: dict[str, Counter[str]] = {}
    for window in windows:
        inside = [c for c in calls if c.started <= window.end + grace and c.ended >= window.start]
        during[f"{window.fault}@{window.start:.0f}s"] = Counter(str(c.status) for c in inside)
    verdict.counts = {
        "requests": len(calls),
        "by_status": dict(sorted(by_status.items())),
        "writes_sent": len(writes),
        "writes_acknowledged": sum(200 <= call.status < 300 for call in writes),
        "by_fault_window": {name: dict(sorted(c.items())) for name, c in during.items()},
        "other_5xx": sum(call.status >= 500 and call.status != 503 for call in calls),
        "unexcused_5xx": sum(call.status >= 500 for call in unexcused),
        "unexcused_no_answer": sum(call.status == 0 for call in unexcused),
    }
    for status, group in sorted(
        Counter((c.status, c.method, c.label) for c in unexcused).items(), key=str
    ):
        code, method, label = status
        what = "no answer" if code == 0 else f"{code}"
        verdict.failures.append(f"{group} x {what} to {method} ({label}) outside any fault")
    return verdict


def judge_state(
    expected: list[Expected],
    actual: dict[tuple[str, str, str], State],
    unresolved_names: set[str],
    actual_names: dict[tuple[str, str, str], str],
) -> Verdict:
    """Compare the end state with what the clients were told. `actual` maps (company, kind,
    id) of every resource present to its state; `unresolved_names` are names of creates
    whose outcome no client learned (they may or may not exist)."""
    verdict = Verdict()
    tracked = {(item.company, item.kind, item.id) for item in expected}
    wrong: list[str] = []
    doubtful_kept = 0
    for item in expected:
        state = actual.get((item.company, item.kind, item.id), ABSENT)
        if state == item.candidates[0]:
            continue
        if state in item.candidates[1:]:
            doubtful_kept += 1
            continue
        wrong.append(
            f"{item.kind} {item.name} ({item.company}): is {state}, "
            f"last acknowledged {item.candidates[0]}"
            + (f", or in doubt {item.candidates[1:]}" if item.doubtful else "")
        )
    untracked = [
        f"{kind} {actual_names.get((company, kind, id_), id_)} ({company})"
        for (company, kind, id_) in actual
        if (company, kind, id_) not in tracked
        and actual_names.get((company, kind, id_)) not in unresolved_names
    ]
    expected_present = sum(item.candidates[0] != ABSENT for item in expected)
    verdict.counts = {
        "tracked": len(expected),
        "expected_present": expected_present,
        "present_tracked": sum(key in tracked for key in actual),
        "in_doubt_at_end": sum(item.doubtful for item in expected),
        "unacknowledged_write_kept": doubtful_kept,
        "wrong_state": len(wrong),
        "untracked_present": len(untracked),
    }
    verdict.failures += [f"acknowledged write lost: {line}" for line in wrong[:50]]
    verdict.failures += [f"present but never acknowledged: {line}" for line in untracked[:50]]
    return verdict

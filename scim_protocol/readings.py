"""What Headcount read in the caller's dialect: the normalisations applied to a write, kept as
short notes (attribute or path, what was sent, what was stored) for the portal's log entry
("Headcount read "Replace" as replace").

Pure Python. The notes come from the PATCH parser (scim_protocol.patch.patch_readings) and the
user normaliser (scim_protocol.user_input); both only ever see a secret's name, never quote
its value: writeOnly attributes (`password`) are dropped before any value is read, and a note
whose attribute or path names a secret (scim_protocol.redaction.names_a_secret) is never kept.
Bounded: at most MAX_READINGS notes of at most MAX_QUOTED characters per value, so a bulk
group PATCH in Entra's dialect costs the ledger row a few KB at most.
"""

from __future__ import annotations

from dataclasses import dataclass

from scim_protocol.redaction import names_a_secret

MAX_READINGS = 20
MAX_QUOTED = 64


def _quoted(text: str) -> str:
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 1] + "…"


@dataclass(frozen=True)
class Reading:
    """One value or name Headcount read differently from how it was sent."""

    attribute: str  # the attribute or PATCH path the note is about
    sent: str  # as sent; JSON-quoted ('"False"') where the type is what changed
    stored: str  # as Headcount took it

    def as_json(self) -> dict[str, str]:
        return {"attribute": self.attribute, "sent": self.sent, "stored": self.stored}


def shown(value: object) -> str:
    """A value as the caller wrote it in JSON: strings quoted, booleans lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


class Readings:
    """The notes of one write, in the order they were made, without repeats."""

    def __init__(self) -> None:
        self._notes: dict[tuple[str, str, str], Reading] = {}

    def note(self, attribute: str, sent: str, stored: str) -> None:
        if len(self._notes) >= MAX_READINGS or names_a_secret(attribute):
            return
        reading = Reading(_quoted(attribute), _quoted(sent), _quoted(stored))
        if reading.sent == reading.stored:
            return
        self._notes.setdefault((reading.attribute, reading.sent, reading.stored), reading)

    def extend(self, readings: tuple[Reading, ...]) -> None:
        for reading in readings:
            if len(self._notes) >= MAX_READINGS:
                return
            self._notes.setdefault((reading.attribute, reading.sent, reading.stored), reading)

    @property
    def full(self) -> bool:
        return len(self._notes) >= MAX_READINGS

    def all(self) -> tuple[Reading, ...]:
        return tuple(self._notes.values())

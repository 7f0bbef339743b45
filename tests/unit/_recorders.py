"""A recorder that keeps what it is handed, for unit tests of code that emits events."""

from __future__ import annotations


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list = []

    def record(self, event) -> bool:
        self.events.append(event)
        return True

    def of(self, cls: type) -> list:
        return [e for e in self.events if isinstance(e, cls)]

"""Which calls are recorded, and how: configuration dataclasses and the decision.

Recording can be on for all calls, for calls where a listed user (extension) is a
party, or for calls that pass through a listed queue; a user can also be exempted
(`never_users`, e.g. a works council line) — exemption wins. The lead's config loader
fills `RecordingConfig` from YAML (`recording:` section); call control asks
`RecordingPolicy.decide(...)` when a call is answered or bridged to an agent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from media.recording.index import Format


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingConfig:
    enabled: bool = True  # master switch: False records nothing
    all_calls: bool = False
    users: frozenset[str] = field(default_factory=frozenset)  # extensions recorded
    queues: frozenset[str] = field(default_factory=frozenset)  # calls through these queues
    never_users: frozenset[str] = field(default_factory=frozenset)
    format: Format = "stereo"
    directory: str = "recordings"  # relative to the data directory
    retention_days: float = 90.0
    flush_interval_s: float = 0.25
    header_interval_s: float = 1.0
    fsync: bool = False  # True: survive power loss too (a disk flush per write)

    def __post_init__(self) -> None:
        if self.format not in ("stereo", "mono"):
            raise ValueError(f"recording.format must be stereo or mono, not {self.format!r}")
        if not self.retention_days > 0:
            raise ValueError("recording.retention_days must be > 0")
        if not 0 < self.flush_interval_s <= 1 or not 0 < self.header_interval_s <= 1:
            raise ValueError("recording flush/header intervals must be in (0, 1] s")


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingDecision:
    record: bool
    reason: str  # "all" | "user:<ext>" | "queue:<name>" | "exempt:<ext>" | "off"
    format: Format = "stereo"


class RecordingPolicy:
    def __init__(self, config: RecordingConfig) -> None:
        self.config = config

    def decide(self, *, caller: str, callee: str, queue: str | None = None,
               agent: str | None = None) -> RecordingDecision:
        c = self.config
        parties = [p for p in (caller, callee, agent) if p]
        if not c.enabled:
            return RecordingDecision(record=False, reason="off", format=c.format)
        for p in parties:
            if p in c.never_users:
                return RecordingDecision(record=False, reason=f"exempt:{p}", format=c.format)
        if c.all_calls:
            return RecordingDecision(record=True, reason="all", format=c.format)
        if queue is not None and queue in c.queues:
            return RecordingDecision(record=True, reason=f"queue:{queue}", format=c.format)
        for p in parties:
            if p in c.users:
                return RecordingDecision(record=True, reason=f"user:{p}", format=c.format)
        return RecordingDecision(record=False, reason="off", format=c.format)

    def should_record(self, *, caller: str, callee: str, queue: str | None = None,
                      agent: str | None = None) -> bool:
        return self.decide(caller=caller, callee=callee, queue=queue, agent=agent).record

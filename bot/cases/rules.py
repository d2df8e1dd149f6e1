"""Case rules: status transitions, case numbers, priority and SLA deadlines.

Plain Python on purpose: these are the rules the business argues about, so they are tested
without a database, a bot or a web server in the way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.cases.errors import IllegalTransition, InvalidCaseData
from bot.cases.model import CATEGORIES, Case, CaseEvent, Priority, Status

# --- status transitions -------------------------------------------------------------------

ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.ACKNOWLEDGED}),
    Status.ACKNOWLEDGED: frozenset({Status.IN_PROGRESS}),
    Status.IN_PROGRESS: frozenset({Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.REOPENED}),
    Status.CLOSED: frozenset({Status.REOPENED}),
    Status.REOPENED: frozenset({Status.IN_PROGRESS}),
}


def check_transition(number: str, current: Status, requested: Status) -> None:
    """Raise :class:`IllegalTransition` unless ``current → requested`` is in the workflow."""
    if requested not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransition(number, current.value, requested.value)


def next_statuses(current: Status) -> list[Status]:
    """Where a case may go from here, in workflow order (for consoles and APIs)."""
    return [s for s in Status if s in ALLOWED_TRANSITIONS[current]]


#: The case-event kind of a customer taking a filed complaint back ("那个投诉不用处理了").
WITHDRAWAL = "withdrawal_requested"
#: The customer sent a new order number or phone after filing (from_value → to_value).
DETAILS_CORRECTED = "details_corrected"


def withdrawn_by_customer(events: Iterable[CaseEvent]) -> bool:
    """The customer took the complaint back and has not had it reopened since: asking them later
    how its handling went would be asking about help they declined."""
    withdrawn = False
    for event in sorted(events, key=lambda e: e.at):
        if event.kind == WITHDRAWAL:
            withdrawn = True
        elif event.kind == "status_changed" and event.to_value == Status.REOPENED.value:
            withdrawn = False
    return withdrawn


# --- case numbers -------------------------------------------------------------------------

_CASE_NUMBER = re.compile(
    r"(?<![A-Za-z0-9])(?:[Cc]\s*(\d{8})\s*(?:[-－—_]\s*)?(\d{4,6})|(\d{8})\s*[-－—_]\s*(\d{4,6})"
    # leading zeros left out: "c20261207-1" was taken for an order number and replaced the case's own
    r"|[Cc]\s*(\d{8})\s*[-－—_]\s*(\d{1,3}))(?!\d)"
)
#: Without its "C", a case number is still one ("20261206-0005", copied without the letter) unless
#: the customer calls it an order: it was taken for an order number and replaced the case's own.
_ORDER_WORD_BEFORE = re.compile(r"(?:订单|单号|运单|快递单|工单|order)[号是为:：#\s]*$", re.IGNORECASE)


def format_case_number(day: date, sequence: int) -> str:
    """``C20261120-0007``: the day the case was opened and its place that day."""
    if not 1 <= sequence <= 999_999:
        raise InvalidCaseData(f"case sequence out of range: {sequence}")
    return f"C{day:%Y%m%d}-{sequence:04d}"


def find_case_numbers(text: str) -> list[tuple[int, int, str]]:
    """Case numbers in free text as ``(start, end, canonical)``; tolerates c/全角/missing dash."""
    normalised = unicodedata.normalize("NFKC", text)
    if len(normalised) != len(text):  # NFKC changed lengths: spans would lie, so match raw
        normalised = text
    found = []
    for match in _CASE_NUMBER.finditer(normalised):
        lettered_day, lettered_seq, bare_day, bare_seq, short_day, short_seq = match.groups()
        day, seq = (
            (lettered_day, lettered_seq)
            if lettered_day
            else (bare_day, bare_seq)
            if bare_day
            else (short_day, f"{int(short_seq):04d}")
        )
        if bare_day and _ORDER_WORD_BEFORE.search(normalised[max(0, match.start() - 8) : match.start()]):
            continue
        try:
            datetime.strptime(day, "%Y%m%d")
        except ValueError:
            continue
        if int(seq) == 0:
            continue  # no case is number 0
        found.append((match.start(), match.end(), f"C{day}-{seq}"))
    return found


def normalise_case_number(raw: str) -> str | None:
    """The canonical form of a typed case number, or None if it is not one."""
    found = find_case_numbers(raw.strip())
    return found[0][2] if found else None


# --- SLA policy and priority -------------------------------------------------------------


@dataclass(frozen=True)
class Deadlines:
    first_response_hours: float
    resolution_hours: float


@dataclass(frozen=True)
class SlaPolicy:
    """Deadlines per priority and the words that make a complaint urgent (from YAML)."""

    deadlines: Mapping[Priority, Deadlines]
    category_priority: Mapping[str, Priority]
    default_priority: Priority
    urgent_terms: Mapping[Priority, tuple[str, ...]]
    #: Groups of words that are urgent together, one word from each group in the same message
    #: ("燃气灶" and "怪味": a gas appliance that smells odd may be leaking).
    urgent_combinations: Mapping[Priority, tuple[tuple[tuple[str, ...], ...], ...]] = field(
        default_factory=dict
    )
    angry_raises_priority: bool = True
    angry_confidence: float = 0.85
    negations: tuple[str, ...] = ("没有", "没", "不", "无", "未", "别")
    round_the_clock: frozenset[Priority] = frozenset({Priority.P1})

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> SlaPolicy:
        try:
            deadlines = {
                Priority(p): Deadlines(float(v["first_response_hours"]), float(v["resolution_hours"]))
                for p, v in raw["priorities"].items()
            }
            missing = set(Priority) - set(deadlines)
            if missing:
                raise InvalidCaseData(f"SLA policy lacks priorities {sorted(m.value for m in missing)}")
            category_priority = {c: Priority(p) for c, p in (raw.get("category_priority") or {}).items()}
            unknown = set(category_priority) - set(CATEGORIES)
            if unknown:
                raise InvalidCaseData(f"SLA policy names unknown categories {sorted(unknown)}")
            urgent = {
                Priority(p): tuple(str(t) for t in terms)
                for p, terms in (raw.get("urgent_terms") or {}).items()
            }
            combinations = {
                Priority(p): tuple(tuple(tuple(str(t) for t in group) for group in combo) for combo in combos)
                for p, combos in (raw.get("urgent_combinations") or {}).items()
            }
            if any(len(combo) < 2 for combos in combinations.values() for combo in combos):
                raise InvalidCaseData("an urgent combination needs at least two groups of words")
            return cls(
                deadlines=deadlines,
                category_priority=category_priority,
                default_priority=Priority(raw.get("default_priority", "P3")),
                urgent_terms=urgent,
                urgent_combinations=combinations,
                angry_raises_priority=bool(raw.get("angry_raises_priority", True)),
                angry_confidence=float(raw.get("angry_confidence", 0.85)),
                negations=tuple(raw.get("negations", cls.negations)),
                round_the_clock=frozenset(Priority(p) for p in raw.get("round_the_clock", ["P1"])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InvalidCaseData):
                raise
            raise InvalidCaseData(f"malformed SLA policy: {exc}") from exc

    @classmethod
    def load(cls, path: Path) -> SlaPolicy:
        with open(path, encoding="utf-8") as fh:
            return cls.from_mapping(yaml.safe_load(fh))


@dataclass(frozen=True)
class PriorityAssessment:
    priority: Priority
    reasons: list[str] = field(default_factory=list)
    #: The urgency words that set the priority ("煤气味"), if any did.
    urgent_terms: list[str] = field(default_factory=list)


_ANGER = re.compile(
    r"气死|太气人|火大|垃圾|骗子|坑人|坑爹|滚|妈的|他妈|tmd|TMD|nmsl|无良|黑心|欺负人|忍无可忍|受够了|"
    r"什么破|破公司|再也不|曝光你们|12315|消协|律师|起诉|媒体|记者|报警"
)


def sounds_angry(text: str) -> bool:
    """Angry words, threats or shouting: more than the displeasure every complaint carries (the
    satisfaction model hears three complaints in four as dissatisfied with 0.85 or more)."""
    shouting = text.count("!") + text.count("！") >= 3 or text.count("?") + text.count("？") >= 4
    return bool(_ANGER.search(text)) or shouting


def mentions(text: str, term: str, negations: Iterable[str]) -> bool:
    """True if ``term`` occurs and at least one occurrence is not negated just before it."""
    start = text.find(term)
    while start != -1:
        window = text[max(0, start - 3) : start]
        if not any(window.endswith(n) or window[-2:-1] == n for n in negations):
            return True
        start = text.find(term, start + 1)
    return False


def urgent_hits(policy: SlaPolicy, level: Priority, text: str) -> list[str]:
    """The words of ``level`` mentioned (not negated) in ``text``: its terms, then one word of each
    group of a combination whose every group is mentioned."""
    hits = [t for t in policy.urgent_terms.get(level, ()) if mentions(text, t, policy.negations)]
    for combo in policy.urgent_combinations.get(level, ()):
        found = [next((t for t in group if mentions(text, t, policy.negations)), None) for group in combo]
        if all(found):
            hits += [t for t in found if t and t not in hits]
    return hits


def assess_priority(
    policy: SlaPolicy,
    category: str,
    text: str,
    satisfaction: str | None = None,
    satisfaction_confidence: float | None = None,
) -> PriorityAssessment:
    """Priority from the category, urgency words and how angry the customer is.

    The most urgent matching term wins; an angry customer (angry words or shouting, heard as
    dissatisfied) raises the priority one step, but anger alone never makes a P1 (that is for safety).
    """
    if category not in CATEGORIES:
        raise InvalidCaseData(f"unknown category {category!r}")
    priority = policy.category_priority.get(category, policy.default_priority)
    reasons = [f"category:{category}={priority.value}"]
    normalised = unicodedata.normalize("NFKC", text)
    terms: list[str] = []
    for level in sorted(set(policy.urgent_terms) | set(policy.urgent_combinations), key=lambda p: p.rank):
        hits = urgent_hits(policy, level, normalised)
        if hits and level.rank < priority.rank:
            priority, terms = level, hits
            reasons.append(f"urgent:{'/'.join(hits)}={level.value}")
            break
    if (
        policy.angry_raises_priority
        and satisfaction == "dissatisfied"
        and (satisfaction_confidence or 0.0) >= policy.angry_confidence
        and sounds_angry(normalised)
        and priority.rank > 2
    ):
        priority = priority.raised()
        reasons.append(f"angry={priority.value}")
    return PriorityAssessment(priority, reasons, terms)


#: When someone is next on duty at or after a moment (the moment itself if they are).
NextOpening = Callable[[datetime], datetime]


def deadlines_for(
    policy: SlaPolicy, priority: Priority, opened_at: datetime, next_opening: NextOpening | None = None
) -> tuple[datetime, datetime]:
    """First-response and resolution deadlines for a case opened at ``opened_at``.

    Calendar hours; a deadline that falls while nobody is on duty moves to when they are back, so a
    P2 sent at 23:00 is promised contact by 09:00, not by 03:00. Priorities in
    ``policy.round_the_clock`` (P1: safety) keep their hours: someone is on call for those."""
    d = policy.deadlines[priority]
    first = opened_at + timedelta(hours=d.first_response_hours)
    resolution = opened_at + timedelta(hours=d.resolution_hours)
    if next_opening is None or priority in policy.round_the_clock:
        return first, resolution
    return next_opening(first), next_opening(resolution)


#: A case finished this recently is still what "我的投诉怎么样了" or "还是没修好" is about.
RECENTLY_FINISHED = timedelta(days=30)


def latest_finished(cases: Iterable[Case], now: datetime) -> Case | None:
    """The newest of these cases (given newest first) finished within RECENTLY_FINISHED."""
    for case in cases:
        finished = case.finished_at
        if finished is not None and now - finished <= RECENTLY_FINISHED:
            return case
    return None


def sla_started_at(case: Case, events: Iterable[CaseEvent]) -> datetime:
    """When the case's deadlines started counting: its filing, or its latest reopening."""
    reopened = [e.at for e in events if e.kind == "status_changed" and e.to_value == Status.REOPENED.value]
    return max(reopened, default=case.created_at)


def next_deadline(case: Case) -> tuple[str, datetime]:
    """What an open case owes the customer next: its first response, then its resolution."""
    if case.first_responded_at is None:
        return "first_response", case.first_response_due
    return "resolution", case.resolution_due


def work_order(cases: Iterable[Case]) -> list[Case]:
    """Open cases in the order to work them: the nearest deadline first, so the late ones lead
    (the longest late on top); the more urgent priority breaks a tie."""
    return sorted(
        (c for c in cases if c.status.is_open),
        key=lambda c: (next_deadline(c)[1], c.priority.rank, c.number),
    )


def is_breached(due: datetime, done_at: datetime | None, now: datetime) -> bool:
    """A deadline is breached if it passed before the thing was done (or is still not done)."""
    return (done_at or now) > due

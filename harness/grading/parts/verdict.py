"""A graded part's verdict: its Status, set where the outcome happened, and what to tell about it."""

from dataclasses import asdict, dataclass, field

from harness.status import Status

MAX_MESSAGE = 600  # characters of one verdict message in the table and the JSON


@dataclass
class Verdict:
    """status decides; message says why in one line; the rest is detail for feedback and the JSON.

    failures: [{"cause", "count", "first", "case", "detail", ("config")}], every distinct failure,
    the most frequent first. distinctions: {name: {"yes", "detail"}} beyond the course, never a fail.
    """
    status: Status
    message: str
    passed: int = None
    total: int = None
    failures: list = field(default_factory=list)
    distinctions: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    settings: dict = None  # train_manual_update: {course setting: passed}

    def to_json(self):
        entry = {key: value for key, value in asdict(self).items() if value is not None}
        entry["status"] = self.status.value
        return entry

    @classmethod
    def from_json(cls, entry):
        return cls(**{**entry, "status": Status(entry["status"])})


def verdict_of(result, before=(), after=()):
    """The Verdict of a CheckResult (harness.checks.results), with notes before and after its own."""
    groups = result.groups()
    message = result.summary()
    if groups:
        message += "; " + " | ".join(str(g) for g in groups)
    return Verdict(
        status=result.status, message=message[:MAX_MESSAGE], passed=result.n_passed, total=result.n_total,
        failures=[{"cause": g.cause, "count": g.count, "first": str(g.example), "case": g.example.case,
                   "detail": g.example.detail, **({"config": g.example.config} if g.example.config else {})} for g in groups],
        distinctions={name: {"yes": yes, "detail": detail} for name, (yes, detail) in result.distinctions.items()},
        notes=[*before, *result.notes, *after][:8], settings=getattr(result, "settings", None))


def error(message):
    return Verdict(Status.ERROR, message[:MAX_MESSAGE])


def missing(message):
    return Verdict(Status.MISSING, message[:MAX_MESSAGE])


def timeout(message):
    return Verdict(Status.TIMEOUT, message[:MAX_MESSAGE])

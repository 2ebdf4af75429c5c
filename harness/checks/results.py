"""What a check returns: failures grouped by cause, distinctions beyond the course, a summary line."""

from collections import OrderedDict
from dataclasses import dataclass, field

from harness.status import Status


@dataclass
class Failure:
    """One thing wrong on one case. cause groups failures; detail is what was seen on this case.
    raised: the submitted code raised (an error of the code, not a wrong result)."""
    case: str
    cause: str
    detail: str = ""
    config: dict = None  # the SGD setting, where the case is one
    raised: bool = False

    def __str__(self):
        detail = f"{self.detail}; " if self.detail else ""
        return f"{self.case}: {detail}{self.cause}."


@dataclass
class FailureGroup:
    cause: str
    count: int
    cases: list
    example: Failure
    unit: str = "cases"

    def __str__(self):
        return f"{self.cause} ({self.count} {self.unit if self.count > 1 else self.unit[:-1]}, first: {self.example.case}{': ' + self.example.detail if self.example.detail else ''})"


@dataclass
class CheckResult:
    """Outcome of a battery. passed is decided by the course's contract alone; distinctions report
    what this project checks beyond it ({name: (yes, detail)}) and never change passed."""
    passed: bool
    n_passed: int
    n_total: int
    failures: list = field(default_factory=list)
    distinctions: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    worst_error: float = 0.0
    worst_finite_difference_error: float = 0.0
    cases: list = field(default_factory=list)
    unit: str = "cases"

    @property
    def status(self):
        """PASS; MISSING when every failure is the student version's stub (NotImplementedError: nothing
        written yet); ERROR when every failure is the code raising; else FAIL."""
        if self.passed:
            return Status.PASS
        if self.failures and all(f.raised and "raised NotImplementedError" in f.cause for f in self.failures):
            return Status.MISSING
        return Status.ERROR if self.failures and all(f.raised for f in self.failures) else Status.FAIL

    def summary(self):
        if self.passed:
            return f"{self.n_passed} / {self.n_total}: ALL TEST PASSED :)"
        return f"{self.n_passed} / {self.n_total} tests passed: SOME TESTS FAILED"

    def groups(self):
        """Distinct causes, the one that explains most cases first."""
        grouped = OrderedDict()
        for failure in self.failures:
            grouped.setdefault(failure.cause, []).append(failure)
        groups = [FailureGroup(cause, len({f.case for f in fs}), [f.case for f in fs], fs[0], self.unit) for cause, fs in grouped.items()]
        return sorted(groups, key=lambda g: -g.count)

    def distinction_lines(self):
        return [f"{name}: {'yes' if yes else 'no'}{' (' + detail + ')' if detail else ''}"
                for name, (yes, detail) in self.distinctions.items()]

    def report(self):
        """The summary, every distinct failure, the distinctions and notes, as printed lines."""
        lines = [self.summary()]
        lines += [f" - {group}" for group in self.groups()]
        lines += [f"   {line}" for line in self.distinction_lines()]
        lines += [f"   note: {note}" for note in self.notes]
        return lines

    def print(self):
        print("\n".join(self.report()))

"""What a graded part can end as. Decided where the outcome happens, never read back from a message."""

from enum import Enum


class Status(str, Enum):
    PASS = "pass"        # right by the course's contract
    FAIL = "fail"        # ran, and its results are wrong (the cause is named)
    ERROR = "error"      # raised, could not be loaded, went over a limit, or died
    MISSING = "missing"  # the notebook or the function is not there
    TIMEOUT = "timeout"  # did not finish within the time limit

    def __str__(self):
        return self.value

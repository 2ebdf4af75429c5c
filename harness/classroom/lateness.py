"""Late penalties by the handout's rule: late work loses 2 points, plus 2 per started 12-hour period.

    --deadline 2026-02-20T23:59[+01:00]   when the deadline was (ISO 8601; without an offset: this machine's time)
    --times times.csv                     when each submission came in: the LMS's export of submission times
                                          (a column for the student: ID, id, user_id, student, Student or
                                          submission; and one for the time: submitted_at, Submitted,
                                          submission time, time)
    --late-policy 2+2/12h                 BASE+STEP/PERIODh; "0" for none

Canvas marks a late upload _LATE in its file names; with no time for it, the penalty is the least a
late submission loses (BASE + STEP, one started period), and the gradebook says "at least".
"""

import csv
import math
import re
from dataclasses import dataclass
from datetime import datetime

POLICY = re.compile(r"^\s*(?P<base>\d+(?:\.\d+)?)\s*\+\s*(?P<step>\d+(?:\.\d+)?)\s*/\s*(?P<hours>\d+(?:\.\d+)?)\s*h\s*$")
STUDENT_COLUMNS = ("id", "user_id", "user id", "student id", "student", "submission", "name")
TIME_COLUMNS = ("submitted_at", "submitted", "submission time", "submitted at", "time")


@dataclass(frozen=True)
class LatePolicy:
    base: float = 2.0
    step: float = 2.0
    period_hours: float = 12.0

    @classmethod
    def parse(cls, text):
        """"2+2/12h" -> LatePolicy(2, 2, 12); "0" -> no penalty; ValueError says what is wrong."""
        if text.strip() == "0":
            return cls(0.0, 0.0, 12.0)
        match = POLICY.match(text)
        if not match or float(match["hours"]) <= 0:
            raise ValueError(f"--late-policy {text!r} is not BASE+STEP/PERIODh, for example 2+2/12h (or 0 for none)")
        return cls(float(match["base"]), float(match["step"]), float(match["hours"]))

    def penalty(self, seconds_late):
        """Points lost for a submission this many seconds after the deadline (0 when on time)."""
        if seconds_late <= 0:
            return 0.0
        return self.base + self.step * math.ceil(seconds_late / 3600 / self.period_hours)

    def least(self):
        """What any late submission loses: one started period."""
        return self.base + self.step


def parse_time(text, what="a time"):
    """A datetime of ISO 8601 text (a trailing Z is UTC); naive ones are this machine's local time."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} {text!r} is not an ISO 8601 time such as 2026-02-20T23:59 or 2026-02-20T23:59:00+01:00") from None
    return moment if moment.tzinfo else moment.astimezone()


def read_times(path):
    """{student (id or name, as written): submission time} from a CSV, or from the JSON Canvas's API gives
    (GET /api/v1/courses/:course/assignments/:assignment/submissions: a list with user_id and
    submitted_at; null for nothing handed in). ValueError names what is missing."""
    if str(path).lower().endswith(".json"):
        return _times_from_canvas_json(path)
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        fields = {name.strip().lower(): name for name in reader.fieldnames or []}
        student = next((fields[c] for c in STUDENT_COLUMNS if c in fields), None)
        time = next((fields[c] for c in TIME_COLUMNS if c in fields), None)
        if student is None or time is None:
            raise ValueError(f"{path} needs a column for the student ({', '.join(STUDENT_COLUMNS)}) and one for the time "
                             f"({', '.join(TIME_COLUMNS)}); it has {', '.join(reader.fieldnames or []) or 'none'}")
        return {row[student].strip(): parse_time(row[time], f"{path}: the time of {row[student].strip()!r}")
                for row in reader if row.get(student) and row.get(time)}


def _times_from_canvas_json(path):
    import json

    try:
        with open(path, encoding="utf-8") as file:
            entries = json.load(file)
    except ValueError as error:
        raise ValueError(f"{path} is not JSON ({error}); give the list Canvas's submissions API returns, or a CSV") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError(f"{path} is not a list of submissions (each with user_id and submitted_at), as Canvas's API returns them")
    return {str(e["user_id"]): parse_time(e["submitted_at"], f"{path}: the time of user {e['user_id']}")
            for e in entries if e.get("user_id") is not None and e.get("submitted_at")}


def duration(seconds):
    """A duration as a person says it: 2 min, 3 h 5 min, 2 days 4 h."""
    minutes = max(1, math.ceil(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} days" + (f" {hours} h" if hours else "")


def _periods(policy, n):
    return f"{n} started {policy.period_hours:g}-hour period{'s' if n != 1 else ''}"


def lateness(submission, deadline, times, policy):
    """(penalty, description) of one collect.Submission: by its time where times has it, else by Canvas's
    mark. The description as a person says it: "2 min late: 1 started 12-hour period: -4 points"."""
    time = next((times[key] for key in (submission.student_id, submission.name, submission.canvas_name) if key and key in times), None)
    if deadline is not None and time is not None:
        late = (time - deadline).total_seconds()
        if late <= 0:
            return 0.0, "on time"
        penalty = policy.penalty(late)
        periods = math.ceil(late / 3600 / policy.period_hours)
        return penalty, f"{duration(late)} late: {_periods(policy, periods)}: -{penalty:g} points"
    if submission.late:
        penalty = policy.least()
        return penalty, f"late by Canvas's mark (no submission time given): at least {_periods(policy, 1)}: -{penalty:g} points"
    return 0.0, "on time" if deadline is not None and time is not None else ""

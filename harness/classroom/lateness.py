"""Late penalties by the handout's rule: late work loses 2 points, plus 2 per started 12-hour period.

    --deadline 2026-02-20T23:59+01:00     when the deadline was: ISO 8601 with its UTC offset, or without one
    --timezone Europe/Oslo                and the IANA time zone it is in (a time without either is refused:
                                          the same class would get other penalties on another machine)
    --times times.csv                     when each submission came in: the LMS's export of submission times
                                          (a column for the student: ID, id, user_id, student, Student or
                                          submission; and one for the time: submitted_at, Submitted,
                                          submission time, time), or the JSON of Canvas's submissions API
    --late-policy 2+2/12h                 BASE+STEP/PERIODh; "0" for none

Canvas marks a late upload _LATE in its file names; with no time for it, the penalty is the least a
late submission loses (BASE + STEP, one started period), and the gradebook says "at least".
"""

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from harness.classroom.tables import Column, InputError, read_table

POLICY = re.compile(r"^\s*(?P<base>\d+(?:\.\d+)?)\s*\+\s*(?P<step>\d+(?:\.\d+)?)\s*/\s*(?P<hours>\d+(?:\.\d+)?)\s*h\s*$")
STUDENT_COLUMNS = ("id", "user_id", "user id", "student id", "identifier", "github_username", "student", "submission", "name")
TIME_COLUMNS = ("submitted_at", "submitted", "submission time", "submitted at", "time")
COLUMNS = [Column("student", STUDENT_COLUMNS, described=f"column for the student ({', '.join(STUDENT_COLUMNS)})"),
           Column("time", TIME_COLUMNS, described=f"column for the time ({', '.join(TIME_COLUMNS)})")]
DOTTED = re.compile(r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})(?:[ T]+(?P<H>\d{1,2})[:.](?P<M>\d{2})(?:[:.](?P<S>\d{2}))?)?")


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


def time_zone(name):
    """The IANA time zone --timezone names (Europe/Oslo), or InputError."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--timezone {name!r} is not an IANA time zone: give one such as Europe/Oslo or UTC") from None


def parse_time(text, what="a time", zone=None):
    """An aware datetime of ISO 8601 text (a trailing Z is UTC) or of day.month.year hours:minutes (as Excel
    in a Norwegian or German locale writes dates). A time without an offset is read in zone (a ZoneInfo);
    without zone it is refused, as is a local time that a change of clocks skips or repeats."""
    text = str(text).strip()
    dotted = DOTTED.fullmatch(text)
    try:
        if dotted:
            moment = datetime(int(dotted["y"]), int(dotted["m"]), int(dotted["d"]), int(dotted["H"] or 0),
                              int(dotted["M"] or 0), int(dotted["S"] or 0))
        else:
            moment = datetime.fromisoformat(re.sub(r"[zZ]$", "+00:00", text))
    except ValueError:
        raise InputError(f"{what} {text!r} is not a time such as 2026-02-20T23:59:00+01:00 (ISO 8601, with its offset)") from None
    if moment.tzinfo is not None:
        return moment
    if zone is None:
        raise InputError(f"{what} {text!r} has no UTC offset, so it would be read in this machine's time zone: write it "
                         "with its offset (2026-02-20T23:59+01:00) or give the course's time zone (--timezone Europe/Oslo)")
    early, late = moment.replace(tzinfo=zone, fold=0), moment.replace(tzinfo=zone, fold=1)
    if early.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) != moment:
        raise InputError(f"{what} {text!r} does not exist in {zone.key} (the clocks skip it): write it with its offset")
    if early.utcoffset() != late.utcoffset():
        raise InputError(f"{what} {text!r} happens twice in {zone.key} (the clocks go back that night): write it with its offset")
    return early


def said(moment):
    """A time as the teacher checks it: 2026-02-20 23:59 +01:00 (Europe/Oslo), 22:59 UTC."""
    offset = moment.utcoffset() or timedelta(0)
    sign, minutes = ("+" if offset >= timedelta(0) else "-"), abs(int(offset.total_seconds() // 60))
    zone = getattr(moment.tzinfo, "key", None)
    utc = moment.astimezone(timezone.utc)
    return (f"{moment:%A %Y-%m-%d %H:%M} {sign}{minutes // 60:02d}:{minutes % 60:02d}" + (f" ({zone})" if zone else "")
            + (f", {utc:%Y-%m-%d %H:%M} UTC" if offset else " (UTC)"))


def read_times(path, zone=None):
    """{student (id or name, as written): the newest submission time} from a CSV (read as Excel or Canvas writes
    it: harness.classroom.tables), or from the JSON Canvas's API gives (GET /api/v1/courses/:course/
    assignments/:assignment/submissions: a list with user_id and submitted_at; null for nothing handed
    in). InputError names the file and what is wrong; times without an offset need zone."""
    if str(path).lower().endswith(".json"):
        return _times_from_canvas_json(path, zone)
    table = read_table(path, "The submission times", COLUMNS,
                       ": give the JSON of Canvas's submissions API, or a CSV with a student column and a time column")
    times = {}
    for row in table.rows:
        student, time = row.cells["student"], row.cells["time"]
        if not student or not time:
            continue
        moment = parse_time(time, f"{table.path.name}, row {row.line}: the time of {student!r},", zone)
        times[student] = max(times.get(student, moment), moment)  # several uploads: the newest is the one graded
    return times


def _times_from_canvas_json(path, zone=None):
    import json
    from pathlib import Path

    name = Path(path).name
    try:
        entries = json.loads(Path(path).read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise InputError(f"The submission times {str(path)!r} do not exist: check the path") from None
    except OSError as error:
        raise InputError(f"The submission times {str(path)!r} cannot be read ({error.strerror or error})") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"The submission times {name} are not JSON ({error}): give the list Canvas's submissions API returns, "
                         "or a CSV") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InputError(f"The submission times {name} are not a list of submissions (each with user_id and submitted_at), "
                         "as Canvas's API returns them")
    return {str(e["user_id"]): parse_time(e["submitted_at"], f"{name}: the time of user {e['user_id']}", zone)
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

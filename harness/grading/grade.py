"""Grade a folder of submissions: each in sandboxed namespaces of its own, each part judged here.

Each submission is graded in a slot (harness.grading.sandbox.slot: a bubblewrap sandbox that imports torch
once and gives each submission its own namespaces) or, where no slot can be made, in a bubblewrap
sandbox of its own (harness.grading.sandbox.bubblewrap). The trust boundary is the same:

    this process (trusted)                           the submission's sandbox (harness.grading.sandbox.worker)
    each part's inputs (weights, SGD settings) --->  load notebooks, call the functions
    references, comparisons, causes  <--- raw outputs (harness.grading.sandbox.protocol: frames, no pickle, bounded)

This process never runs submitted code: it reads each notebook's syntax tree (for autograd and
dynamic code, harness.grading.parts.source_check) and the numbers that come back, and decides every
verdict (a Part's judge). A problem with one submission is that submission's error, never the run's.
"""

import json
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import torch

from harness.grading.parts import deliverables
from harness.grading.sandbox import protocol
from harness.grading.sandbox import bubblewrap as sandbox
from harness.grading.parts import verdict
from harness.grading.parts.part import JudgeContext
from harness.grading.parts import PARTS
from harness.grading.sandbox.protocol import RunStatus
from harness.grading.sandbox.slot import SlotBroken, SlotPool, SlotUnavailable
from harness.grading.sandbox.packing import UnpackableSubmission
from harness.status import Status

STARTUP_SECONDS = 30.0  # importing torch in a busy sandbox
JUDGE_LOCK = threading.Lock()  # the cached references are shared by the threads


@dataclass
class Options:
    """How to grade; the command line takes its defaults from here."""
    timeout: float = 120.0         # seconds per part of a submission
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)  # sandboxes at the same time
    memory_gib: float = 4.0        # per sandbox
    use_sandbox: bool = True       # False only with --unsafe-no-sandbox, for trusted code
    parts: tuple = PARTS
    deliverables: bool = True      # check the notebooks were run and the report (harness.grading.parts.deliverables)


@dataclass
class SubmissionResult:
    """One submission's verdicts ({part key: Verdict}) and what the teacher's gradebook needs besides."""
    name: str
    verdicts: dict
    seconds: float = 0.0
    student_id: str = ""           # Canvas's user id, where the layout says
    canvas_name: str = ""
    notes: list = field(default_factory=list)      # how it was collected (renamed notebooks, ...)
    deliverables: dict = None      # deliverables.decode()'s facts, or None when they could not be checked
    penalty: float = 0.0           # late penalty, in points
    lateness: str = ""
    marks: dict = field(default_factory=dict)      # the TA's marks: {column: points}
    comment: str = ""
    # who it is for (harness.classroom.groups): one result per student once a group's is given to each member
    display_name: str = ""         # the student's name as the roster has it
    named: bool = False            # display_name comes from the teacher's lists (roster, group set), not a submission
    group: str = ""                # the Canvas group whose submission this is
    partners: list = field(default_factory=list)   # the other members' names
    handed_in: bool = True         # False: a roster student with nothing handed in
    attachment_id: str = ""        # Canvas's id of a file of the submission (for the re-upload of feedback)
    download_prefix: str = ""      # <name>[_LATE] as Canvas's download named the files
    content: str = ""              # a hash of the staged files (harness.classroom.record): a new upload changes it
    similarity: str = ""           # the most similar other submission, where the class was compared
    student_notes: list = field(default_factory=list)  # about this student's row (a partner the report does not name)

    def all_notes(self):
        return self.notes + self.student_notes

    def to_json(self, parts=PARTS):
        return {"submission": self.name, **{part.key: self.verdicts[part.key].to_json() for part in parts}, "seconds": self.seconds,
                "student id": self.student_id, "notes": self.all_notes(), "deliverables": self.deliverables,
                "late": self.lateness, "late penalty": self.penalty, "marks": self.marks, "comment": self.comment,
                "student": self.display_name, "group": self.group, "handed in": self.handed_in,
                "student notes": self.student_notes, "canvas name": self.canvas_name, "content": self.content,
                "similarity": self.similarity}

    @classmethod
    def from_json(cls, entry, parts=PARTS):
        """The submission's result as graded (what to_json wrote), without what was given to the student
        afterwards (lateness, marks, names: harness.classroom gives those again)."""
        own = entry.get("student notes") or []
        notes = list(entry.get("notes") or [])
        return cls(entry["submission"], {part.key: verdict.Verdict.from_json(entry[part.key]) for part in parts},
                   seconds=entry.get("seconds", 0.0), student_id=entry.get("student id", ""),
                   canvas_name=entry.get("canvas name", ""), notes=notes[:len(notes) - len(own)] if own else notes,
                   deliverables=entry.get("deliverables"), content=entry.get("content", ""),
                   similarity=entry.get("similarity", ""))


def write_job(folder, options):
    """job.json: the parts, the time limits, whether the deliverables are checked (a slot reads it at its start)."""
    job = {"parts": [{"key": part.key, "module": part.module, "notebook": part.notebook} for part in options.parts],
           "timeout": options.timeout, "deliverables": options.deliverables, "submission_seconds": slot_budget(options)}
    (folder / "job.json").write_text(json.dumps(job))


def write_inputs(folder, options):
    """What every sandbox reads: job.json, and each part's inputs (each part makes its references here)."""
    write_job(folder, options)
    for part in options.parts:
        part.write_inputs(folder)


def frame_keys(options):
    return [part.key for part in options.parts] + ([deliverables.KEY] if options.deliverables else [])


def run_in_slot(folder, pool, options):
    """({part key: Frame}, out_of_memory) of one submission folder graded in one of pool's slots."""
    status, data, out_of_memory = pool.run(folder)
    if status == "isolation":
        raise RuntimeError(f"its sandbox could not be made: {data.decode(errors='replace')}")
    if status == "unpack":
        raise UnpackableSubmission(f"the submission's files could not be written into its sandbox "
                                   f"({data.decode(errors='replace')}): hand in the notebooks, the report and code files only")
    reader = protocol.FrameReader(frame_keys(options))
    reader.feed(data)
    return reader.frames, out_of_memory


def run_sandboxed(folder, inputs, options, pool=None):
    """Run the worker on one submission folder; returns ({part key: Frame}, out_of_memory). In a slot
    of pool where one can be made (harness.grading.sandbox.slot), else in a sandbox of its own."""
    if not options.use_sandbox:  # the same worker code in a child started portably (harness.grading.sandbox.portable)
        from harness.grading.sandbox.portable import run_portably

        return run_portably(folder, inputs, options), False
    if pool is not None:
        try:
            return run_in_slot(folder, pool, options)
        except SlotUnavailable:
            pass
        except SlotBroken:
            return {}, False
    limits = sandbox.Limits(int(options.memory_gib * 2**30))
    scratch = tempfile.mkdtemp(prefix="inf265-part-")
    reader = protocol.FrameReader(frame_keys(options))
    try:
        process = sandbox.start(folder, inputs, limits, scratch, options.use_sandbox)
        try:
            deadline = time.monotonic() + STARTUP_SECONDS + len(options.parts) * (options.timeout + 5)
            _read_until(process.stdout, reader, deadline)
        finally:
            sandbox.end(process, limits)
        return reader.frames, limits.out_of_memory()
    finally:
        limits.remove()
        shutil.rmtree(scratch, ignore_errors=True)


def _read_until(stream, reader, deadline):
    import select

    os.set_blocking(stream.fileno(), False)
    while not reader.done and time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], min(1.0, max(0.0, deadline - time.monotonic())))
        if ready:
            chunk = os.read(stream.fileno(), 1 << 20)
            if not chunk:
                return
            reader.feed(chunk)


def part_verdict(part, frame, context, options, out_of_memory):
    """The Verdict of one part from its frame: decided by the frame's RunStatus and, when the part
    ran, by the part's judge on its raw outcome."""
    where = f"{part.function} from {part.notebook}"
    if frame is None:
        return verdict.error(f"the sandbox ended before {where} was graded (the submission killed the grading process, or it crashed).")
    if frame.status is RunStatus.OK:
        try:
            envelope = protocol.open_envelope(frame.payload)
            if envelope.outcome == "missing":
                return verdict.missing(envelope.message)
            if envelope.outcome == "load_error":
                return verdict.error(envelope.message)
            problem, notes = part.read_source(context) if part.read_source else (None, [])
            if problem is not None:
                return problem
            with JUDGE_LOCK:
                judged = part.judge(envelope, context)
            judged.notes = (judged.notes + notes)[:8]
            return judged
        except protocol.ProtocolError as error:
            return verdict.error(f"the sandbox returned unreadable results for {part.function} ({error}).")
    if frame.status is RunStatus.TIMEOUT:
        return verdict.timeout(f"{where} did not finish within {options.timeout:g} s (an endless loop or far too slow).")
    if out_of_memory:
        return verdict.error(f"{where} went over the memory limit of {options.memory_gib:g} GiB and was killed.")
    if frame.status is RunStatus.OVERSIZED:
        return verdict.error(f"{where} returned more output than the grader accepts.")
    ended = f"signal {frame.code}" if frame.status is RunStatus.SIGNALLED else f"exit {frame.code}"
    return verdict.error(f"the process running {where} ended ({ended}) before it returned results: "
                         "the submission called os._exit, was killed or crashed.")


def deliverables_of(frame):
    """The decoded facts of the deliverables frame, or None (missing, timed out, malformed)."""
    if frame is None or frame.status is not RunStatus.OK:
        return None
    try:
        envelope = protocol.open_envelope(frame.payload)
        return deliverables.decode(envelope.data) if envelope.outcome == "ran" else None
    except (protocol.ProtocolError, ValueError, TypeError, KeyError):
        return None


def grade_submission(submission, inputs, options, pool=None):
    """The SubmissionResult of one collected submission (harness.classroom.collect); never raises for its doing."""
    start = time.perf_counter()
    result = SubmissionResult(submission.name, {}, student_id=submission.student_id, canvas_name=submission.canvas_name,
                              notes=list(submission.notes))
    try:
        if submission.error:
            result.verdicts = {part.key: verdict.error(submission.error) for part in options.parts}
            return result
        folder = submission.folder
        frames, out_of_memory = run_sandboxed(folder, inputs, options, pool)
        for part in options.parts:
            context = JudgeContext(folder=folder, notebook_path=folder / part.notebook)
            try:
                result.verdicts[part.key] = part_verdict(part, frames.get(part.key), context, options, out_of_memory)
            except Exception as error:  # a payload that decodes but makes no sense is the submission's doing
                result.verdicts[part.key] = verdict.error(f"the sandbox returned unreadable results for {part.function} "
                                                          f"({type(error).__name__}: {error}).")
        result.deliverables = deliverables_of(frames.get(deliverables.KEY))
        said_too_large(result, getattr(submission, "oversized", {}), options)
        return result
    except UnpackableSubmission as error:
        result.verdicts = {part.key: verdict.error(f"{error}.") for part in options.parts}
        return result
    except Exception as error:  # the grader's own failure on this submission: the others still get graded
        message = f"the grader could not grade this submission ({type(error).__name__}: {error})."
        result.verdicts = {part.key: verdict.error(message) for part in options.parts}
        return result
    finally:
        result.seconds = _since(start)


def said_too_large(result, oversized, options):
    """A notebook handed in but left out for its size ({name: (bytes, the limit in bytes)}, the staging's)
    is an error of its part and a deliverable handed in and too large: never "not submitted"."""
    for name, (size, limit) in oversized.items():
        why = f"handed in, but too large to grade ({size / 2**20:.0f} MiB; the grader reads notebooks of at most {limit >> 20} MiB)"
        for part in options.parts:
            if part.notebook == name:
                result.verdicts[part.key] = verdict.error(f"{name} was {why}: clear large outputs (figures, printed tensors) "
                                                          "and hand it in again.")
        if result.deliverables is not None and name in result.deliverables["notebooks"]:
            result.deliverables["notebooks"][name] = {"present": True, "run": False, "why": why, "note": "", "tests": [0, 0],
                                                      "too_large": size, "limit": limit}


def _since(start):
    return round(time.perf_counter() - start, 2)


def grade_all(submissions, options=None, on_done=None, on_note=None):
    """Grade every collected submission (harness.classroom.collect), at most options.jobs sandboxes at a
    time; returns SubmissionResults in their order. on_done(result): called as each one finishes;
    on_note(text): told how the run went where the teacher should know (no slots here)."""
    options = options or Options()
    torch.set_num_threads(1)
    inputs = Path(tempfile.mkdtemp(prefix="inf265-inputs-"))
    try:
        write_job(inputs, options)
        slots = SlotPool(inputs, int(options.memory_gib * 2**30), slot_budget(options), len(frame_keys(options)))
        if options.use_sandbox and submissions:
            slots.start(min(options.jobs, len(submissions)))  # their torch imports while this process makes the references
        results = [None] * len(submissions)
        try:
            for part in options.parts:
                part.write_inputs(inputs)  # each part also makes its references here, before the threads need them
            with ThreadPoolExecutor(max_workers=options.jobs) as threads:
                futures = {threads.submit(grade_submission, path, inputs, options, slots): i for i, path in enumerate(submissions)}
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    if on_done:
                        on_done(results[futures[future]])
        finally:
            slots.close()
        if slots.unavailable and on_note:
            on_note(f"each submission got a sandbox of its own, which imports torch anew (slower): {slots.unavailable}")
        return results
    finally:
        shutil.rmtree(inputs, ignore_errors=True)


def slot_budget(options):
    """Seconds one submission may take in a slot: every part and the deliverables at their time limit."""
    return (len(options.parts) + options.deliverables) * (options.timeout + 5) + 10

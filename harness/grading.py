"""Grade a folder of submissions: `python tests_backpropagation.py grade SUBMISSIONS_DIR`.

Each sub-folder (or .zip holding one) of SUBMISSIONS_DIR is a submission with backpropagation.ipynb
and gradient_descent.ipynb. The trust boundary:

    this process (trusted)                         the submission's sandbox (harness.worker)
    cases, weights, SGD settings  --- inputs --->  load notebooks, call the functions
    references, comparisons, causes <-- raw outputs (harness.payload, no pickle, size-checked) ---

This process never runs submitted code: it reads each notebook's syntax tree (for autograd and
dynamic code, harness.source_check) and the numbers that come back, and decides every verdict.

Status of a part: pass; fail (wrong results, with the cause); error (the code raised, the notebook
could not be loaded, the memory limit); missing (notebook or function absent); timeout.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from harness import sandbox
from harness.gradients import cached_references, judge_case, summarize
from harness.guard import RawOutcome
from harness.notebook import NotebookError, definitions_source
from harness.payload import pack, unpack
from harness.references import parameter_items
from harness.sandbox import PARTS
from harness.sgd import N_EPOCHS, SGD_CONFIGS, SgdOutcome, judge_sgd, reference_states
from harness.signature import CallPlan
from harness.source_check import forbidden_uses
from harness.tolerances import MAX_MESSAGE

MAX_ZIP_BYTES = 256 * 2**20
STARTUP_SECONDS = 30.0  # importing torch in a busy sandbox
JUDGE_LOCK = threading.Lock()


def find_submissions(folder):
    """Sub-folders and .zip files of folder, sorted by name; hidden entries are ignored."""
    if not folder.is_dir():
        raise NotADirectoryError(20, "not a folder" if folder.exists() else "no such folder")
    return sorted((p for p in folder.iterdir() if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() == ".zip")),
                  key=lambda p: p.name)


# --- inputs ---------------------------------------------------------------------------------------

def write_inputs(folder, n_random=50, seed=0):
    """cases.bin (nets' weights, inputs, targets; harness.payload) and sgd.json (settings) for every sandbox."""
    cases, _ = cached_references(n_random, seed)
    arrays, specs = {}, []
    for i, case in enumerate(cases):
        model = case.build()
        specs.append({"n_l": case.n_l, "activation": case.activation})
        arrays[f"c{i}.x"], arrays[f"c{i}.y"] = case.x.numpy(), case.y_true.numpy()
        for l, kind, p in parameter_items(model):
            arrays[f"c{i}.{l}.{kind}"] = p.detach().numpy()
    (folder / "cases.bin").write_bytes(pack({"cases": specs}, arrays))
    (folder / "sgd.json").write_text(json.dumps({"configs": SGD_CONFIGS, "n_epochs": N_EPOCHS, "seed": seed}))


def extract_zip(archive, target):
    """Regular files only, inside target, at most MAX_ZIP_BYTES; one top folder is entered. Data
    folders, environments and large files are left out, as the sandbox's copy leaves them out."""
    target.mkdir(parents=True)
    total = 0
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            mode = member.external_attr >> 16
            if member.is_dir() or (mode & 0o170000) == 0o120000:  # folders come with files; symlinks never
                continue
            code = member.filename.endswith((".ipynb", ".py"))
            if set(Path(member.filename).parts[:-1]) & sandbox.IGNORED_FOLDERS or (member.file_size > sandbox.MAX_COPIED_FILE and not code):
                continue
            path = (target / member.filename).resolve()
            if target.resolve() not in path.parents:
                continue
            total += member.file_size
            if total > MAX_ZIP_BYTES:
                raise ValueError(f"the archive unpacks to more than {MAX_ZIP_BYTES >> 20} MiB")
            path.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(member) as source, open(path, "wb") as out:
                shutil.copyfileobj(source, out)
    entries = [p for p in target.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else target


# --- one submission -------------------------------------------------------------------------------

def _read_frames(stream, deadline):
    """{part: (status, payload bytes)} from the worker's stdout until it closes or the deadline."""
    frames, buffer = {}, b""
    os.set_blocking(stream.fileno(), False)
    import select
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], min(1.0, max(0.0, deadline - time.monotonic())))
        if not ready:
            continue
        chunk = os.read(stream.fileno(), 1 << 20)
        if not chunk:
            break
        buffer += chunk
        while b"\n" in buffer:
            header, rest = buffer.split(b"\n", 1)
            fields = header.decode(errors="replace").split()
            if len(fields) != 4 or fields[0] != "PART" or not fields[3].isdigit():
                return frames
            size = int(fields[3])
            if size > sandbox.MAX_RESULT_BYTES:
                return frames
            if len(rest) < size:
                break
            frames[fields[1]] = (fields[2], rest[:size])
            buffer = rest[size:]
            if len(frames) == len(PARTS):
                return frames
    return frames


def run_sandboxed(submission_folder, inputs, timeout, memory_bytes, use_sandbox=True):
    """Run the worker on one submission; returns ({part: (status, payload)}, out_of_memory)."""
    # The worker starts in its own scratch folder, so a relative path (grade submissions) would miss.
    submission_folder, inputs = os.path.abspath(submission_folder), os.path.abspath(inputs)
    limits = sandbox.Limits(memory_bytes, max_processes=64)
    scratch = tempfile.mkdtemp(prefix="inf265-part-")
    try:
        if use_sandbox:
            command = sandbox.bwrap_command(submission_folder, inputs, ["-m", "harness.worker", "/submission", "/inputs", str(timeout), "/tmp/submission"])
            env = None
        else:
            command = [sys.executable, "-m", "harness.worker", str(submission_folder), str(inputs), str(timeout), str(Path(scratch) / "submission")]
            env = {**os.environ, "PYTHONPATH": str(sandbox.PROJECT_ROOT), "OMP_NUM_THREADS": "1"}
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   preexec_fn=limits.enter, env=env, cwd=scratch, start_new_session=True)
        try:
            frames = _read_frames(process.stdout, time.monotonic() + STARTUP_SECONDS + len(PARTS) * (timeout + 5))
        finally:
            limits.kill_all()
            try:
                os.killpg(process.pid, 9)
            except OSError:
                pass
            process.kill()
            process.wait()
            process.stdout.close()
        return frames, limits.out_of_memory()
    finally:
        limits.remove()
        shutil.rmtree(scratch, ignore_errors=True)


def read_regular_file(path, limit=64 * 2**20):
    """The text of path if it is a regular file (no symlink, FIFO or device) of at most limit bytes, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return file.read(limit).decode("utf-8", errors="replace")


def _load_payload(payload):
    meta, arrays = unpack(payload)
    if not isinstance(meta, dict):
        raise ValueError("the payload's header is not an object")
    return meta, arrays


def _verdict_from_meta(meta):
    if "missing" in meta:
        return {"status": "missing", "message": str(meta["missing"])}
    if "load_error" in meta:
        return {"status": "error", "message": str(meta["load_error"])}
    return None


def judge_backpropagation(payload, notebook_path, n_random=50, seed=0):
    """The backpropagation verdict from the worker's raw outputs, decided here."""
    meta, data = _load_payload(payload)
    early = _verdict_from_meta(meta)
    if early:
        return early
    uses, text = [], read_regular_file(notebook_path)
    if text is None:
        return {"status": "error", "message": f"{notebook_path.name} is not a regular file the grader can read (a link, or too large)."}
    try:
        statements = [s for _, module in definitions_source(notebook_path, text) for s in module.body]
        uses = forbidden_uses(statements, "backpropagation")
    except NotebookError:
        pass
    if uses:
        what = ", ".join(sorted({u for u, _ in uses})[:4])
        return {"status": "fail", "message": f"backpropagation's code uses {what} (line {uses[0][1]} of its cell); autograd is not allowed, "
                                             "and dynamic code that could reach it cannot be checked: compute the gradients by hand."}
    cases, references = cached_references(n_random, seed)
    if len(meta.get("cases", [])) != len(cases):
        return {"status": "error", "message": "the sandbox returned results for the wrong number of cases."}
    results = []
    for i, (case, reference, entry) in enumerate(zip(cases, references, meta["cases"])):
        outcome = RawOutcome(error=tuple(entry["error"]) if entry.get("error") else None)
        for l, kind, param in parameter_items(reference.model):
            mark = entry["gradients"].get(f"{l}.{kind}")
            key = f"c{i}.{l}.{kind}"
            if mark == "array" and key in data:
                array = data[key]
                outcome.gradients[l, kind] = torch.from_numpy(array.copy()) if array.size <= 10 * param.numel() + 100 else "oversized array"
            else:
                outcome.gradients[l, kind] = mark if isinstance(mark, str) and mark != "array" else None
        results.append(judge_case(case, reference, outcome))
    result = summarize(results)
    result.notes.insert(0, f"nets built from {meta.get('net', 'the harness MyNet')}")
    result.notes += [n for n in meta.get("notes", []) if isinstance(n, str)][:5]
    return verdict_of(result, raised_status=all(f.cause.startswith("backpropagation raised") for f in result.failures))


def judge_sgd_payload(payload, notebook_path, seed=0):
    meta, data = _load_payload(payload)
    early = _verdict_from_meta(meta)
    if early:
        return early
    plan = CallPlan(roles=dict(meta["plan"]["roles"]), unfillable=list(meta["plan"]["unfillable"]),
                    positional_only=list(meta["plan"]["positional_only"]))
    outcomes = {}
    for key, entry in meta.get("outcomes", {}).items():
        i = int(key)
        if entry.get("error"):
            outcomes[i] = SgdOutcome(error=str(entry["error"]))
            continue
        states = []
        for epoch in range(int(entry.get("epochs", 0))):
            prefix = f"o{i}.e{epoch}."
            states.append({name[len(prefix):]: torch.from_numpy(data[name].copy()) for name in data if name.startswith(prefix)})
        one_prefix = f"o{i}.one."
        one = {name[len(one_prefix):]: torch.from_numpy(data[name].copy()) for name in data if name.startswith(one_prefix)}
        outcomes[i] = SgdOutcome(states=states, one_step=one)
    references = reference_states(SGD_CONFIGS, N_EPOCHS, seed)
    result = judge_sgd(plan, outcomes, references, SGD_CONFIGS, N_EPOCHS)
    result.notes += [n for n in meta.get("notes", []) if isinstance(n, str)][:5]
    raised = bool(result.failures) and all(" raised " in f.cause for f in result.failures)
    entry = verdict_of(result, raised_status=raised)
    entry["settings"] = getattr(result, "settings", {})
    return entry


def verdict_of(result, raised_status=False):
    """{"status", "message", "failures", "distinctions", "passed", "total"} of a CheckResult."""
    status = "pass" if result.passed else ("error" if raised_status else "fail")
    groups = result.groups()
    message = result.summary()
    if groups:
        message += "; " + " | ".join(str(g) for g in groups)
    return {"status": status, "message": message[:MAX_MESSAGE], "passed": result.n_passed, "total": result.n_total,
            "failures": [{"cause": g.cause, "count": g.count, "first": str(g.example), "case": g.example.case, "detail": g.example.detail,
                          **({"config": g.example.config} if g.example.config else {})} for g in groups],
            "distinctions": {name: {"yes": yes, "detail": detail} for name, (yes, detail) in result.distinctions.items()},
            "notes": result.notes[:8]}


def grade_submission(submission, inputs, timeout, memory_bytes, use_sandbox=True):
    """The verdict entry of one submission (folder or .zip)."""
    start = time.perf_counter()
    name = submission.stem if submission.suffix.lower() == ".zip" else submission.name
    entry = {"submission": name}
    unpacked = None
    try:
        if submission.is_dir():
            folder = submission
        else:
            unpacked = Path(tempfile.mkdtemp(prefix="inf265-zip-"))
            try:
                folder = extract_zip(submission, unpacked / "x")
            except (zipfile.BadZipFile, ValueError, OSError) as error:
                for key, _, _ in PARTS:
                    entry[key] = {"status": "error", "message": f"{submission.name} cannot be unpacked ({error})."}
                entry["seconds"] = round(time.perf_counter() - start, 2)
                return entry
        frames, out_of_memory = run_sandboxed(folder, inputs, timeout, memory_bytes, use_sandbox)
        for key, notebook, function in PARTS:
            status, payload = frames.get(key, (None, b""))
            try:
                with JUDGE_LOCK:  # the cached reference nets are shared by the threads
                    entry[key] = _part_verdict(key, status, payload, folder / notebook, function, notebook, timeout, out_of_memory, memory_bytes)
            except Exception as error:  # a malformed payload is the submission's doing
                entry[key] = {"status": "error", "message": f"the sandbox returned unreadable results for {function} ({type(error).__name__}: {error})."}
    finally:
        if unpacked:
            shutil.rmtree(unpacked, ignore_errors=True)
    entry["seconds"] = round(time.perf_counter() - start, 2)
    return entry


def _part_verdict(key, status, payload, notebook_path, function, notebook, timeout, out_of_memory, memory_bytes):
    if status == "ok":
        if key == "backpropagation":
            return judge_backpropagation(payload, notebook_path)
        return judge_sgd_payload(payload, notebook_path)
    if status == "timeout":
        return {"status": "timeout", "message": f"{function} from {notebook} did not finish within {timeout:g} s (an endless loop or far too slow)."}
    if out_of_memory:
        return {"status": "error", "message": f"{function} from {notebook} went over the memory limit of {memory_bytes / 2**30:g} GiB and was killed."}
    if status == "oversized":
        return {"status": "error", "message": f"{function} from {notebook} returned more output than the grader accepts."}
    if status is None:
        return {"status": "error", "message": f"the sandbox ended before {function} from {notebook} was graded (the submission killed the grading process, or it crashed)."}
    return {"status": "error", "message": f"the process running {function} from {notebook} ended ({status.split(':', 1)[-1].replace('_', ' ')}) before it returned results: the submission called os._exit, was killed or crashed."}


def grade_all(submissions, timeout=120.0, jobs=2, memory_gib=4.0, use_sandbox=True):
    """Grade every submission, at most `jobs` sandboxes at a time; returns the verdict list."""
    torch.set_num_threads(1)
    inputs = Path(tempfile.mkdtemp(prefix="inf265-inputs-"))
    try:
        write_inputs(inputs)
        reference_states(SGD_CONFIGS, N_EPOCHS, 0)  # made once, before the threads need them
        memory_bytes = int(memory_gib * 2**30)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(lambda s: grade_submission(s, inputs, timeout, memory_bytes, use_sandbox), submissions))
    finally:
        shutil.rmtree(inputs, ignore_errors=True)


def print_table(verdicts):
    """One row per submission, then every part that did not pass with its message."""
    width = max([len("submission")] + [len(v["submission"]) for v in verdicts])
    print(f"{'submission':{width}s}  {'backpropagation':15s}  {'sgd':8s}  {'seconds':>7s}")
    for v in verdicts:
        print(f"{v['submission']:{width}s}  {v['backpropagation']['status']:15s}  {v['sgd']['status']:8s}  {v['seconds']:7.1f}")
    for v in verdicts:
        for key, _, _ in PARTS:
            if v[key]["status"] != "pass":
                print(f"- {v['submission']} / {key}: {v[key]['status']}: {v[key]['message']}")

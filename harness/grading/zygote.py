"""What runs in a slot sandbox (harness.grading.slot): torch imported once, one submission after another.

    python -m harness.grading.zygote INPUTS

On stdin, requests; on stdout, answers (the grader writes one request at a time and waits):

    GRADE <n>\\n<n bytes: the submission, harness.grading.submissions.pack_folder>
        -> RESULT <ok | timeout | oversized | isolation> <m>\\n<m bytes: frames, harness.grading.protocol>
           (isolation: the submission's namespaces could not be made; the m bytes say why)

At start it answers READY, or UNSUPPORTED <why> when this machine cannot give a submission its own
namespaces (the grader then makes one bubblewrap sandbox per submission instead).

Per submission it forks a child that makes the submission's own namespaces (harness.grading.namespaces),
unpacks the submission into its own /submission and forks the worker as PID 1 of a new PID
namespace; the worker drops every capability and grades as harness.grading.worker does, writing
frames into a pipe that this process reads. When the frames are in or the time is up, every other
process of the slot is killed before the next request is read. No submitted code runs here.
"""

import ctypes
import os
import sys
import time

from harness.grading import namespaces, sandbox, worker
from harness.grading.submissions import MAX_PACKED_BYTES, unpack_into

PR_SET_CHILD_SUBREAPER = 36
SUBMISSION_TMPFS_BYTES = MAX_PACKED_BYTES + (16 << 20)  # tar headers unpack to nothing; folders take a little
MAX_REQUEST_LINE = 64
MAX_FRAME_OVERHEAD = 4096


def prepare(inputs):
    """Import once what every submission's worker needs (torch first: it is most of the time)."""
    import importlib

    import torch

    torch.set_num_threads(1)
    job = worker.load_job(inputs)
    for entry in job["parts"]:
        importlib.import_module(entry["module"])
    for name in ("numpy", "matplotlib", "matplotlib.pyplot"):  # most notebooks import them: the parts' children need not
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    return job


def budget(job):
    """(seconds, bytes) one submission may take: every part and the deliverables at their limits."""
    from harness.grading import protocol

    frames = len(job["parts"]) + bool(job.get("deliverables"))
    return job["submission_seconds"], frames * (protocol.MAX_PAYLOAD_BYTES + MAX_FRAME_OVERHEAD)


def isolate_and_grade(packed, inputs, frames_write, status_write):
    """In the forked child: the submission's namespaces, then its worker as PID 1 (never returns)."""
    try:
        _write_text("/proc/self/oom_score_adj", "1000")  # the memory limit takes a submission's process before the zygote
        namespaces.enter(sandbox.TMPFS_BYTES, SUBMISSION_TMPFS_BYTES, lambda target: unpack_into(packed, target))
        pid = os.fork()
        if pid == 0:
            os.close(status_write)
            namespaces.drop_capabilities()
            os.chdir("/tmp")
            worker.grade_folder("/submission", inputs, frames_write, in_namespace=True)
            os._exit(0)
    except BaseException as error:  # noqa: BLE001 - told to the zygote, which tells the grader
        worker._write_all(status_write, f"{type(error).__name__}: {error}"[:500].encode(errors="replace"))
        os._exit(3)
    os.close(frames_write)
    os.close(status_write)
    os.waitpid(pid, 0)
    os._exit(0)


def _write_text(path, text):
    with open(path, "w") as file:
        file.write(text)


def grade_one(packed, inputs, job):
    """(status word, frames bytes) of one packed submission."""
    seconds, max_bytes = budget(job)
    frames_read, frames_write = os.pipe()
    status_read, status_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(frames_read)
        os.close(status_read)
        for fd in (0, 1):  # the requests and the answers: only this process speaks with the grader
            os.dup2(os.open(os.devnull, os.O_RDWR), fd)
        isolate_and_grade(packed, inputs, frames_write, status_write)
    os.close(frames_write)
    os.close(status_write)
    status, data = _read_all(frames_read, seconds, max_bytes)
    os.close(frames_read)
    sandbox.kill_until_gone(lambda: [-1], reap=True)  # everything but this process (and bwrap's init)
    why = _read_all(status_read, 1.0, 1000)[1]
    os.close(status_read)
    if why:
        return "isolation", why
    return status, data


def _read_all(fd, seconds, max_bytes):
    """("ok" | "timeout" | "oversized", bytes) read from fd until end of file."""
    import select

    chunks, size, deadline = [], 0, time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout", b"".join(chunks)
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return "ok", b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            return "oversized", b""
        chunks.append(chunk)


def self_test():
    """None when a submission's namespaces can be made here, else why not."""
    frames_read, frames_write = os.pipe()
    status_read, status_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(frames_read)
        os.close(status_read)
        try:
            namespaces.enter(1 << 20, 1 << 20, lambda target: None)
            child = os.fork()
            if child == 0:
                namespaces.drop_capabilities()
                os.write(frames_write, b"ok" if os.getpid() == 1 and namespaces.effective_capabilities() == 0 else b"caps")
                os._exit(0)
            os.waitpid(child, 0)
            os._exit(0)
        except BaseException as error:  # noqa: BLE001
            os.write(status_write, f"{type(error).__name__}: {error}"[:300].encode(errors="replace"))
            os._exit(3)
    os.close(frames_write)
    os.close(status_write)
    _, said = _read_all(frames_read, 30, 100)
    _, why = _read_all(status_read, 5, 1000)
    sandbox.kill_until_gone(lambda: [-1], reap=True)
    if said == b"ok":
        return None
    return why.decode(errors="replace") or "the test child could not drop its capabilities"


def _read_request(stdin):
    """The packed submission of the next GRADE request, or None at the end."""
    line = stdin.readline(MAX_REQUEST_LINE)
    fields = line.decode("ascii", errors="replace").split()
    if len(fields) != 2 or fields[0] != "GRADE" or not fields[1].isdigit() or int(fields[1]) > MAX_PACKED_BYTES:
        return None
    return stdin.read(int(fields[1]))


def main(argv):
    inputs = argv[0]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no process of the slot may trace this one or read its fds
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    stdin, stdout = os.fdopen(0, "rb"), os.fdopen(1, "wb")
    try:
        job = prepare(inputs)
        why = self_test()
    except Exception as error:  # noqa: BLE001 - the grader's own setup; it falls back to a sandbox per submission
        why = f"the zygote could not start ({type(error).__name__}: {error})"
    if why is not None:
        stdout.write(f"UNSUPPORTED {why}".replace("\n", " ").encode(errors="replace")[:400] + b"\n")
        stdout.flush()
        return
    stdout.write(b"READY\n")
    stdout.flush()
    while (packed := _read_request(stdin)) is not None:
        status, data = grade_one(packed, inputs, job)
        stdout.write(f"RESULT {status} {len(data)}\n".encode() + data)
        stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
    os._exit(0)

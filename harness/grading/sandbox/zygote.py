"""What runs in a slot sandbox (harness.grading.sandbox.slot): torch imported once, one submission after another.

    python -m harness.grading.sandbox.zygote INPUTS

On stdin, requests; on stdout, answers (the grader writes one request at a time and waits):

    GRADE <n>\\n<n bytes: the submission, harness.grading.sandbox.packing.pack_folder>
        -> RESULT <ok | timeout | oversized | isolation | unpack> <m>\\n<m bytes: frames, harness.grading.sandbox.protocol>
           (isolation, unpack: the submission's namespaces could not be made, its files could not be
           written there; the m bytes say why)

At start it answers READY, or UNSUPPORTED <why> when this machine cannot give a submission its own
namespaces (the grader then makes one bubblewrap sandbox per submission instead).

Per request it forks a keeper that reads the request, makes the submission's own namespaces
(harness.grading.sandbox.namespaces), unpacks the submission into its own /submission, forks the worker as
PID 1 of a new PID namespace (the worker drops every capability and grades as harness.grading.sandbox.worker
does), and writes the worker's frames back as the answer. This process never reads a request or an
answer: nothing of one submission is in the memory the next one is forked from. When the keeper has
answered or its time is up, every other process of the slot is killed; a keeper that does not end as
it should ends the slot (the grader replaces it). No submitted code runs here.
"""

import ctypes
import os
import sys

from harness.grading.sandbox import namespaces
from harness.grading.sandbox import bubblewrap as sandbox
from harness.grading.sandbox import worker
from harness.grading.sandbox.packing import MAX_PACKED_BYTES, unpack_into

PR_SET_CHILD_SUBREAPER = 36
SUBMISSION_TMPFS_BYTES = MAX_PACKED_BYTES + (16 << 20)  # tar headers unpack to nothing; folders take a little
MAX_REQUEST_LINE = 64


def prepare(inputs):
    """Import once what every submission's worker needs (torch first: it is most of the time)."""
    import importlib

    import torch

    torch.set_num_threads(1)
    job = worker.load_job(inputs)
    for entry in job["parts"]:
        importlib.import_module(entry["module"])
    # most notebooks import them, and worker.ALWAYS_PREIMPORTED: the parts' children need not
    for name in ("numpy", "matplotlib", "matplotlib.pyplot", *worker.ALWAYS_PREIMPORTED):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    return job


def budget(job):
    """(seconds, bytes) one submission may take: every part and the deliverables at their limits."""
    from harness.grading.sandbox import protocol

    return job["submission_seconds"], protocol.max_frames_bytes(len(job["parts"]) + bool(job.get("deliverables")))


def serve_one(inputs, job, started_write):
    """In a forked child (the submission's keeper): read one request, make the submission's namespaces,
    fork its worker as PID 1, write the answer (never returns). Exit 4: no request came (the end)."""
    packed = _read_request()
    if packed is None:
        os._exit(4)
    os.write(started_write, b"1")
    os.close(started_write)
    seconds, max_bytes = budget(job)
    frames_read, frames_write = os.pipe()
    try:
        namespaces.write_proc_file("/proc/self/oom_score_adj", "1000")  # the memory limit takes a submission's process before the zygote
        _fork_pid_1(sandbox.TMPFS_BYTES, SUBMISSION_TMPFS_BYTES, lambda target: _unpack(packed, target), frames_write,
                    lambda: worker.grade_folder("/submission", inputs, frames_write, in_namespace=True))
        del packed
    except BaseException as error:  # noqa: BLE001 - the grader says the submission could not be isolated or unpacked
        cause = error.__cause__ if isinstance(error, _UnpackError) else error
        _answer("unpack" if isinstance(error, _UnpackError) else "isolation",
                f"{type(cause).__name__}: {cause}"[:500].encode(errors="replace"))
        os._exit(0)
    os.close(frames_write)
    status, data = worker.read_until_end(frames_read, seconds, max_bytes)
    _answer(status.value, data)
    os._exit(0)  # the zygote kills the submission's PID 1, and with it everything in its namespace


def _fork_pid_1(tmp_bytes, submission_bytes, fill_submission, out_fd, run):
    """Make this process's own namespaces (namespaces.enter) and fork their PID 1, which runs run()
    with stdin and stdout on /dev/null (the grader's requests and answers stay with this process), no
    other file of the zygote's open but out_fd, no capabilities, in /tmp."""
    namespaces.enter(tmp_bytes, submission_bytes, fill_submission)
    if os.fork() == 0:
        try:  # whatever happens here, this child never returns into the zygote's code
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            os.closerange(3, out_fd)
            os.closerange(out_fd + 1, 1 << 16)
            namespaces.drop_capabilities()
            os.chdir("/tmp")
            run()
        finally:
            os._exit(0)


class _UnpackError(Exception):
    """The submission's files could not be written into its /submission."""


def _unpack(packed, target):
    try:
        unpack_into(packed, target)
    except Exception as error:
        raise _UnpackError() from error


def _answer(status, data):
    worker._write_all(1, f"RESULT {status} {len(data)}\n".encode() + data)


def _read_request():
    """The packed submission of the next GRADE request on stdin, or None at its end. Read unbuffered:
    the zygote itself never reads it, so no submission's bytes are in the memory the next one forks from."""
    header = b""
    while b"\n" not in header:
        chunk = os.read(0, MAX_REQUEST_LINE)
        if not chunk or len(header) > MAX_REQUEST_LINE:
            return None
        header += chunk
    line, _, data = header.partition(b"\n")
    fields = line.decode("ascii", errors="replace").split()
    if len(fields) != 2 or fields[0] != "GRADE" or not fields[1].isdigit() or int(fields[1]) > MAX_PACKED_BYTES:
        return None
    chunks, size = [data], len(data)
    while size < int(fields[1]):
        chunk = os.read(0, min(1 << 20, int(fields[1]) - size))
        if not chunk:
            return None
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def serve(inputs, job):
    """One keeper per request until the grader closes stdin; ends the slot when a keeper does not end
    as it should (the grader then replaces the slot)."""
    seconds, _ = budget(job)
    while True:
        started_read, started_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(started_read)
            serve_one(inputs, job, started_write)
        os.close(started_write)
        started = os.read(started_read, 1)  # blocks until a request came, or the keeper ended without one
        os.close(started_read)
        if not started:
            os.waitpid(pid, 0)
            return
        status = worker.wait_for_exit(pid, seconds + 5)
        sandbox.kill_until_gone(lambda: [-1], reap=True)  # everything but this process (and bwrap's init)
        if status is None or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return


def self_test():
    """None when a submission's namespaces can be made here (made as for a submission, with nothing in
    them), else why not."""
    frames_read, frames_write = os.pipe()
    status_read, status_write = os.pipe()
    if os.fork() == 0:
        os.close(frames_read)
        os.close(status_read)
        try:
            _fork_pid_1(1 << 20, 1 << 20, lambda target: None, frames_write, lambda: os.write(
                frames_write, b"ok" if os.getpid() == 1 and namespaces.effective_capabilities() == 0 else b"caps"))
        except BaseException as error:  # noqa: BLE001
            os.write(status_write, f"{type(error).__name__}: {error}"[:300].encode(errors="replace"))
        os._exit(0)
    os.close(frames_write)
    os.close(status_write)
    _, said = worker.read_until_end(frames_read, 30, 100)
    _, why = worker.read_until_end(status_read, 5, 1000)
    sandbox.kill_until_gone(lambda: [-1], reap=True)
    if said == b"ok":
        return None
    return why.decode(errors="replace") or "the test child could not drop its capabilities"


def main(argv):
    inputs = argv[0]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no process of the slot may trace this one or read its fds
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        job = prepare(inputs)
        why = self_test()
    except Exception as error:  # noqa: BLE001 - the grader's own setup; it falls back to a sandbox per submission
        why = f"the zygote could not start ({type(error).__name__}: {error})"
    if why is not None:
        worker._write_all(1, f"UNSUPPORTED {why}".replace("\n", " ").encode(errors="replace")[:400] + b"\n")
        return
    worker._write_all(1, b"READY\n")
    serve(inputs, job)


if __name__ == "__main__":
    main(sys.argv[1:])
    os._exit(0)

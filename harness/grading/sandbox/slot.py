"""Slots: bubblewrap sandboxes that import torch once and grade one submission after another.

Importing torch takes 2-4 s, more than grading a right submission then costs (about 1 s). A slot
is a sandbox made as in harness.grading.sandbox.bubblewrap (the same mounts, environment, limits and cgroup)
with no submission in it; its zygote (harness.grading.sandbox.zygote) imports torch, and gives each submission sent
to it a forked child with namespaces of its own: its own /tmp and read-only /submission, PID 1 of a
PID namespace (nothing outside visible, everything inside killed with it), no network, no
capabilities, /proc covered but for cpuinfo (harness.grading.sandbox.namespaces). Nothing of one submission
is left when the next one starts: its mounts, processes, IPC objects and keys go with its namespaces.

A slot whose zygote dies, stops answering or answers out of protocol is ended (every process in its
cgroup and session killed) and replaced; the submission it was grading gets an error for each part.
Where a slot cannot isolate a submission (no nested user namespaces, Python under /tmp),
SlotUnavailable says why and the grader makes one sandbox per submission.
"""

import os
import queue
import select
import subprocess
import threading
import time

from harness.grading.sandbox import protocol
from harness.grading.sandbox import bubblewrap as sandbox
from harness.grading.sandbox.packing import pack_folder

STARTUP_SECONDS = 90.0    # the zygote's torch import, on a busy machine
MAX_ANSWER_LINE = 512     # READY, UNSUPPORTED <why>, RESULT <status> <bytes>


class SlotUnavailable(RuntimeError):
    """No slot can be made here; the message says why."""


class SlotBroken(RuntimeError):
    """The slot's zygote ended or broke the protocol: the slot must be replaced."""


class Slot:
    """One slot sandbox and its zygote, talked to through pipes."""

    def __init__(self, inputs, memory_bytes, budget_seconds, n_frames=8):
        self.budget_seconds, self.max_answer_bytes = budget_seconds, protocol.max_frames_bytes(n_frames)
        self.ended, self.closing = threading.Event(), threading.Lock()
        command = sandbox.bwrap_command(None, os.path.abspath(inputs), ["-m", "harness.grading.sandbox.zygote", "/inputs"], slot=True)
        self.limits = sandbox.Limits(memory_bytes)
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                            preexec_fn=self.limits.enter, env=sandbox.BWRAP_ENVIRONMENT, start_new_session=True)
        except OSError:
            self.limits.remove()
            raise
        os.set_blocking(self.process.stdout.fileno(), False)
        os.set_blocking(self.process.stdin.fileno(), False)
        self.buffer = bytearray()
        try:
            line = self._line(time.monotonic() + STARTUP_SECONDS)
        except SlotBroken as error:
            self.close()
            raise SlotUnavailable(f"the slot's zygote did not start ({error})") from None
        if line != "READY":
            self.close()
            raise SlotUnavailable(line.removeprefix("UNSUPPORTED ") or "the slot's zygote did not start")

    def grade(self, packed):
        """(status, frames bytes, out_of_memory) of one packed submission (pack_folder); status as the
        zygote's RESULT line says (ok, timeout, oversized, isolation, unpack). SlotBroken: the slot must go."""
        kills = self.limits.oom_kills()
        deadline = time.monotonic() + self.budget_seconds + 15
        self._send(f"GRADE {len(packed)}\n".encode() + packed, deadline)
        fields = self._line(deadline).split(" ")
        if len(fields) != 3 or fields[0] != "RESULT" or not fields[2].isdigit():
            raise SlotBroken("the slot answered out of protocol")
        data = self._exactly(int(fields[2]), deadline)
        return fields[1], data, self.limits.oom_kills() > kills

    def _send(self, data, deadline):
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SlotBroken("the slot did not take the submission in time")
            _, ready, _ = select.select([], [self.process.stdin], [], min(left, 1.0))
            if ready:
                try:
                    view = view[os.write(self.process.stdin.fileno(), view[:1 << 16]):]
                except BlockingIOError:
                    continue
                except OSError as error:
                    raise SlotBroken(f"the slot no longer takes requests ({error})") from None

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise SlotBroken("the slot did not answer in time")
        ready, _, _ = select.select([self.process.stdout], [], [], min(left, 1.0))
        if ready:
            chunk = os.read(self.process.stdout.fileno(), 1 << 20)
            if not chunk:
                raise SlotBroken("the slot ended")
            self.buffer += chunk

    def _line(self, deadline):
        while (newline := self.buffer.find(b"\n", 0, MAX_ANSWER_LINE)) < 0:
            if len(self.buffer) > MAX_ANSWER_LINE:
                raise SlotBroken("the slot answered out of protocol")
            self._fill(deadline)
        line = bytes(self.buffer[:newline]).decode("utf-8", errors="replace")
        del self.buffer[:newline + 1]
        return line

    def _exactly(self, size, deadline):
        if size > self.max_answer_bytes:
            raise SlotBroken("the slot answered with more than any submission may send")
        while len(self.buffer) < size:
            self._fill(deadline)
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def close(self):
        """End the zygote and everything in the slot (once; later calls do nothing)."""
        with self.closing:
            if self.ended.is_set():
                return
            self.ended.set()
        try:
            self.process.stdin.close()
        except OSError:
            pass
        sandbox.end(self.process, self.limits)
        self.limits.remove()


class SlotPool:
    """A fixed number of slots, started in the background, handed to grading threads one at a time;
    a broken slot is replaced in the background. Where none can be made, run() raises SlotUnavailable."""

    def __init__(self, inputs, memory_bytes, budget_seconds, n_frames=8):
        self.inputs, self.memory_bytes, self.budget_seconds, self.n_frames = inputs, memory_bytes, budget_seconds, n_frames
        self.idle, self.all, self.lock = queue.SimpleQueue(), [], threading.Lock()
        self.unavailable = None  # why no slot can be made here, once a start said so
        self.closed, self.started = False, 0

    def start(self, count):
        """Start count slots in the background (each imports torch: seconds)."""
        self.started += count
        for _ in range(count):
            threading.Thread(target=self._start_one, daemon=True).start()

    def _start_one(self):
        """In a thread that lives as long as the pool: bwrap's --die-with-parent follows the thread that
        started it, and would end the slot with that thread."""
        try:
            slot = Slot(self.inputs, self.memory_bytes, self.budget_seconds, self.n_frames)
        except (SlotUnavailable, sandbox.SandboxUnavailable, OSError) as error:
            self.unavailable = self.unavailable or str(error)
            self.idle.put(None)  # wakes a waiting thread, which then grades without slots
            return
        with self.lock:
            if not self.closed:
                self.all.append(slot)
                self.idle.put(slot)
        if not self.closed:
            slot.ended.wait()
        slot.close()

    def run(self, folder):
        """(status, frames bytes, out_of_memory) of folder in a slot; SlotUnavailable when none can be
        made; UnpackableSubmission from packing (no slot is touched). Waits for an idle slot."""
        if self.unavailable:
            raise SlotUnavailable(self.unavailable)
        packed = pack_folder(folder)
        if not self.started:
            self.start(1)
        slot = self.idle.get()
        if slot is None:
            self.idle.put(None)  # every thread that waits learns it
            raise SlotUnavailable(self.unavailable)
        try:
            result = slot.grade(packed)
        except BaseException:
            with self.lock:
                self.all.remove(slot)
            slot.close()
            self.start(1)  # its replacement
            raise
        self.idle.put(slot)
        return result

    def close(self):
        with self.lock:
            self.closed = True
            slots = list(self.all)
        for slot in slots:
            slot.close()

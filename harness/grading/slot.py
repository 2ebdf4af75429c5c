"""Slots: bubblewrap sandboxes that import torch once and grade one submission after another.

Importing torch takes 2-3 s, most of what grading a right submission costs. A slot is a sandbox
made as in harness.grading.sandbox (the same mounts, environment, limits and cgroup) with no
submission in it; its zygote (harness.grading.zygote) imports torch, and gives each submission sent
to it a forked child with namespaces of its own: its own /tmp and read-only /submission, PID 1 of a
PID namespace (nothing outside visible, everything inside killed with it), no network, no
capabilities, /proc covered but for cpuinfo (harness.grading.namespaces). Nothing of one submission
is left when the next one starts: its mounts, processes, IPC objects and keys go with its namespaces.

A slot whose zygote dies, stops answering or answers out of protocol is ended (every process in its
cgroup and session killed) and replaced; the submission it was grading gets the frames it sent, if
any, and an error for the rest. Where a slot cannot isolate a submission (no nested user namespaces,
Python under /tmp), SlotUnavailable says why and the grader makes one sandbox per submission.
"""

import os
import queue
import select
import subprocess
import time

from harness.grading import protocol, sandbox
from harness.grading.submissions import SubmissionTooLarge, pack_folder

STARTUP_SECONDS = 90.0    # the zygote's torch import, on a busy machine
MAX_ANSWER_LINE = 64


class SlotUnavailable(RuntimeError):
    """No slot can be made here; the message says why."""


class SlotBroken(RuntimeError):
    """The slot's zygote ended or broke the protocol: the slot must be replaced."""


class Slot:
    """One slot sandbox and its zygote, talked to through pipes."""

    def __init__(self, inputs, memory_bytes, budget_seconds):
        self.budget_seconds = budget_seconds
        self.limits = sandbox.Limits(memory_bytes)
        command = sandbox.bwrap_command(None, os.path.abspath(inputs), ["-m", "harness.grading.zygote", "/inputs"], slot=True)
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        preexec_fn=self.limits.enter, env=sandbox.BWRAP_ENVIRONMENT, start_new_session=True)
        os.set_blocking(self.process.stdout.fileno(), False)
        self.buffer = bytearray()
        try:
            line = self._line(time.monotonic() + STARTUP_SECONDS)
        except SlotBroken as error:
            self.close()
            raise SlotUnavailable(f"the slot's zygote did not start ({error})") from None
        if line != "READY":
            self.close()
            raise SlotUnavailable(line.removeprefix("UNSUPPORTED ") or "the slot's zygote did not start")

    def grade(self, folder):
        """(status, frames bytes, out_of_memory) of one submission folder; status as the zygote's
        RESULT line says (ok, timeout, oversized, isolation). SlotBroken: the slot must go."""
        packed = pack_folder(folder)  # SubmissionTooLarge: the submission's error, the slot is untouched
        kills = self.limits.oom_kills()
        try:
            self.process.stdin.write(f"GRADE {len(packed)}\n".encode() + packed)
            self.process.stdin.flush()
        except OSError as error:
            raise SlotBroken(f"the slot no longer takes requests ({error})") from None
        deadline = time.monotonic() + self.budget_seconds + 15
        fields = self._line(deadline).split(" ")
        if len(fields) != 3 or fields[0] != "RESULT" or not fields[2].isdigit():
            raise SlotBroken("the slot answered out of protocol")
        data = self._exactly(int(fields[2]), deadline)
        return fields[1], data, self.limits.oom_kills() > kills

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
        while (newline := self.buffer.find(b"\n", 0, MAX_ANSWER_LINE + 400)) < 0:
            if len(self.buffer) > MAX_ANSWER_LINE + 400:
                raise SlotBroken("the slot answered out of protocol")
            self._fill(deadline)
        line = bytes(self.buffer[:newline]).decode("utf-8", errors="replace")
        del self.buffer[:newline + 1]
        return line

    def _exactly(self, size, deadline):
        if size > 4 * protocol.MAX_PAYLOAD_BYTES + 2**20:
            raise SlotBroken("the slot answered with more than any submission may send")
        while len(self.buffer) < size:
            self._fill(deadline)
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def close(self):
        """End the zygote and everything in the slot."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        sandbox.end(self.process, self.limits)
        self.limits.remove()


class SlotPool:
    """Slots handed to grading threads one at a time: started when first needed, replaced when broken."""

    def __init__(self, inputs, memory_bytes, budget_seconds):
        self.inputs, self.memory_bytes, self.budget_seconds = inputs, memory_bytes, budget_seconds
        self.idle, self.all = queue.SimpleQueue(), []
        self.unavailable = None  # why no slot can be made here, once a start said so

    def run(self, folder):
        """(status, frames bytes, out_of_memory) of folder in a slot; SlotUnavailable when none can be
        made; SubmissionTooLarge from packing."""
        if self.unavailable:
            raise SlotUnavailable(self.unavailable)
        try:
            slot = self.idle.get_nowait()
        except queue.Empty:
            try:
                slot = Slot(self.inputs, self.memory_bytes, self.budget_seconds)
            except (SlotUnavailable, sandbox.SandboxUnavailable) as error:
                self.unavailable = str(error)
                raise SlotUnavailable(self.unavailable) from None
            self.all.append(slot)
        try:
            result = slot.grade(folder)
        except SubmissionTooLarge:
            self.idle.put(slot)
            raise
        except BaseException:
            self.all.remove(slot)
            slot.close()
            raise
        self.idle.put(slot)
        return result

    def close(self):
        for slot in self.all:
            slot.close()

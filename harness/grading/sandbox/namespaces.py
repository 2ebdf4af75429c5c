"""One submission's own namespaces, made inside a slot sandbox (harness.grading.sandbox.slot) by a forked child.

bubblewrap makes the slot: the host's files, environment, network and capabilities are out of reach
there. Inside it a zygote imports torch once and forks a child per submission, which calls enter():

    unshare(user, mount, PID, IPC, network, UTS)   the slot's uid and gid mapped to themselves
    max_user_namespaces = 0                        no namespace of its own below this one
    /tmp, /submission                              fresh tmpfs mounts, gone with the submission
    /proc                                          a read-only tmpfs holding a copy of cpuinfo only

and its next child is PID 1 of a namespace that holds nothing else: the submission's processes can
see, signal or trace nothing outside it, and all of them die with it. That child drops every
capability (drop_capabilities) before any of the submission's code runs: the mounts above stay as
made (a mount cannot be undone or remounted without CAP_SYS_ADMIN, and /proc cannot be mounted anew
while the one below is covered).
"""

import ctypes
import os

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 16384, 1 << 18
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 38, 47, 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
LAST_CAPABILITY = 63

_libc = ctypes.CDLL(None, use_errno=True)


class NamespaceError(OSError):
    """A namespace or mount could not be made: the slot cannot isolate submissions here."""


def _check(result, what):
    if result != 0:
        error = ctypes.get_errno()
        raise NamespaceError(error, f"{what}: {os.strerror(error)}")


def _mount(source, target, kind, flags, options=None):
    _check(_libc.mount(source.encode(), target.encode(), kind.encode() if kind else None, flags,
                       options.encode() if options else None), f"mount {target}")


def _tmpfs(target, size_bytes, flags=MS_NOSUID | MS_NODEV):
    options = f"size={size_bytes},mode=0755"
    _mount("tmpfs", target, "tmpfs", flags, options)
    return options


def write_proc_file(path, text):
    """Write text to a file under /proc (one write: a map or a setting takes its value whole)."""
    with open(path, "w") as file:
        file.write(text)


def enter(tmp_bytes, submission_bytes, fill_submission):
    """Make this process's own namespaces and mounts (see the module's docstring). fill_submission(path)
    writes the submission into /submission before it is made read-only. The next fork is PID 1."""
    uid, gid = os.getuid(), os.getgid()
    with open("/proc/cpuinfo") as file:  # PyTorch picks its CPU kernels from it
        cpuinfo = file.read()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS), "unshare")
    write_proc_file("/proc/self/setgroups", "deny")
    write_proc_file("/proc/self/uid_map", f"{uid} {uid} 1")
    write_proc_file("/proc/self/gid_map", f"{gid} {gid} 1")
    write_proc_file("/proc/sys/user/max_user_namespaces", "0")
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    _tmpfs("/tmp", tmp_bytes)
    options = _tmpfs("/submission", submission_bytes)
    fill_submission("/submission")
    _mount("tmpfs", "/submission", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, options)
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    options = _tmpfs("/proc", 1 << 20, flags)
    write_proc_file("/proc/cpuinfo", cpuinfo)
    _mount("tmpfs", "/proc", None, MS_REMOUNT | MS_RDONLY | flags, options)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities():
    """No capability left, none to gain back: bounding and ambient sets emptied, no_new_privs set."""
    for capability in range(LAST_CAPABILITY + 1):
        _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)  # EINVAL past the kernel's last one
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
    _check(_libc.capset(ctypes.byref(_CapHeader(LINUX_CAPABILITY_VERSION_3, 0)), (_CapData * 2)()), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def effective_capabilities():
    """This process's effective capability set, as a number (0: none)."""
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(_CapHeader(LINUX_CAPABILITY_VERSION_3, 0)), data), "capget")
    return data[0].effective | data[1].effective << 32

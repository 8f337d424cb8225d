"""The sandbox's seccomp filter, compiled to BPF by libseccomp.

bubblewrap loads a compiled classic-BPF program (``bwrap --seccomp FD``)
right before it executes the sandboxed command, with ``no_new_privs`` set.
The program is built here by libseccomp (``libseccomp.so.2``, Debian's
``libseccomp2``) through four of its C functions, called with :mod:`ctypes`:
``seccomp_init``, ``seccomp_rule_add_array``, ``seccomp_export_bpf`` and
``seccomp_release`` (``seccomp_rule_add_array(3)``, ``seccomp_export_bpf(3)``).

The rule: every system call is allowed except those in :data:`DENIED`, which
fail with ``EPERM``; ``clone`` fails with ``EPERM`` when its flags ask for a
new namespace (:data:`CLONE_NEW_FLAGS`), and ``clone3`` fails with
``ENOSYS`` (its flags live in memory a filter cannot read; glibc then falls
back to ``clone``, as under Docker's and Flatpak's filters). A call of another
architecture's ABI (32-bit ``int 0x80`` on x86-64) kills the process:
libseccomp's default action for a foreign architecture.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os

LIBRARY = "libseccomp.so.2"

DENIED = (
    # no network: no socket of any family (AF_INET, AF_INET6, AF_UNIX, AF_NETLINK, ...)
    "socket",
    # no new mounts or namespaces, no way out of the ones bwrap made
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "move_mount", "open_tree",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    # no reading or writing other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # no kernel-wide state
    "bpf", "perf_event_open", "kexec_load", "kexec_file_load", "reboot", "init_module",
    "finit_module", "delete_module", "iopl", "ioperm", "swapon", "swapoff", "syslog", "acct",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "quotactl", "lookup_dcookie",
    "open_by_handle_at", "name_to_handle_at", "keyctl", "add_key", "request_key",
    "userfaultfd", "fanotify_init", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "personality", "vhangup", "uselib",
)
"""System calls that fail with ``EPERM`` inside the sandbox."""

CLONE_NEW_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
"""``clone`` flags that would make a namespace (``clone(2)``); any of them → ``EPERM``."""

_ACT_ALLOW = 0x7FFF0000
_ACT_ERRNO = 0x00050000
_CMP_MASKED_EQ = 7  # enum scmp_compare in seccomp.h
_NR_ERROR = -1  # __NR_SCMP_ERROR: the name is unknown to libseccomp


class SeccompUnavailable(RuntimeError):
    """libseccomp is missing or refused to build the filter."""


class _ArgCmp(ctypes.Structure):
    """``struct scmp_arg_cmp`` of seccomp.h."""

    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _errno_action(code: int) -> int:
    return _ACT_ERRNO | (code & 0xFFFF)


def _library() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(LIBRARY, use_errno=True)
    except OSError as err:
        raise SeccompUnavailable(
            f"{LIBRARY} (libseccomp) not found: install it (Debian: apt-get install libseccomp2)"
        ) from err
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp)
    ]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


@functools.lru_cache(maxsize=1)
def filter_bpf() -> bytes:
    """The compiled filter (built once per process); :class:`SeccompUnavailable` if it cannot be."""
    lib = _library()
    ctx = lib.seccomp_init(_ACT_ALLOW)
    if not ctx:
        raise SeccompUnavailable("seccomp_init failed")
    try:

        def add(name: str, action: int, *conditions: _ArgCmp) -> None:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number == _NR_ERROR:
                return  # not a system call of this architecture
            array = (_ArgCmp * len(conditions))(*conditions) if conditions else None
            rc = lib.seccomp_rule_add_array(ctx, action, number, len(conditions), array)
            if rc != 0:
                raise SeccompUnavailable(f"seccomp_rule_add({name}) failed: {os.strerror(-rc)}")

        for name in DENIED:
            add(name, _errno_action(errno.EPERM))
        for flag in CLONE_NEW_FLAGS.values():
            add("clone", _errno_action(errno.EPERM), _ArgCmp(0, _CMP_MASKED_EQ, flag, flag))
        add("clone3", _errno_action(errno.ENOSYS))
        fd = os.memfd_create("rewardlab-seccomp")
        try:
            rc = lib.seccomp_export_bpf(ctx, fd)
            if rc != 0:
                raise SeccompUnavailable(f"seccomp_export_bpf failed: {os.strerror(-rc)}")
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)


def filter_fd() -> int:
    """A new memfd holding :func:`filter_bpf`, positioned at its start (the caller closes it)."""
    fd = os.memfd_create("rewardlab-seccomp")
    os.write(fd, filter_bpf())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd

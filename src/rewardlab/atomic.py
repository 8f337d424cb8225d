"""Atomic writes: a file or a folder appears complete, or not at all.

Files are written to ``.{name}.{pid}.{random}.tmp`` in the target's folder and
renamed over the target with ``os.replace``.

Folders (saved models) are written to a staging folder
``.{name}.{pid}.{random}.staging`` beside the target. A new target is renamed
into place; an existing one is swapped with the staging folder in one
``renameat2(RENAME_EXCHANGE)`` (Linux), so the target path holds the old or the
new complete version at every instant, and the old one (now under the staging
name) is deleted afterwards. Where the exchange is unavailable the old folder is
renamed aside to ``.{name}.{pid}.{random}.old``, the new one renamed in and the
old one deleted; a kill between those two renames leaves the old version aside,
and :func:`recover` (called on every later read or write of the target) renames
it back.

Litter of killed writers (temporary files, staging folders) carries the
writer's pid in its name; the next write to the same target removes the
entries whose process is gone, never those of a writer still running.

Modes: ``mkstemp``/``mkdtemp`` create 0600 files and 0700 folders whatever the
umask, and some writers (safetensors) create 0600 files too; every output, and
every file and folder inside a written folder, is re-moded to what an ordinary
``open``/``mkdir`` would give, 0666 / 0777 less the umask (0644 / 0755 under the
usual 022). A replaced file keeps the mode it had.

What may be replaced (:func:`output_problem`): a file output replaces an absent
path or a regular file (a symbolic link to one is replaced by the new file; the
file it pointed to is left alone), never a folder, a device, a pipe or a socket
(as root, writing ``/dev/null`` by rename would replace the device node); a
folder output replaces an absent path or a real folder, never a file or a
symbolic link.

JSON output is strict (:mod:`rewardlab.strict_json`): NaN and ±Infinity are
written as ``null``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from rewardlab.strict_json import dumps

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_LITTER = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.(?P<kind>tmp|staging|old)")


def checkpoint(step: str) -> None:
    """A named step of a write; fault-injection tests replace this to stop a writer there.

    Steps: ``file-written`` (temporary file complete), ``file-replaced``,
    ``dir-staged`` (staging folder complete), ``dir-aside`` (fallback only: the
    old folder renamed aside), ``dir-swapped`` (new folder in place, old one not
    yet deleted).
    """


def _umask() -> int:
    """The process umask, read without changing it where Linux shows it (thread-safe)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def is_temporary_name(name: str) -> bool:
    """True for the name of a temporary entry of a writer (see the module doc)."""
    return _LITTER.fullmatch(name) is not None


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _litter(target: Path) -> Iterator[tuple[Path, str]]:
    """``(path, kind)`` of every temporary entry of ``target`` left by a dead process."""
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in target.parent.iterdir():
            match = _LITTER.fullmatch(entry.name)
            if match and match["name"] == target.name and not _pid_alive(int(match["pid"])):
                yield entry, match["kind"]


def recover(target: str | Path) -> None:
    """Put back an old folder left aside by a writer killed mid-swap (see the module doc)."""
    target = Path(target)
    if target.exists():
        return
    aside = sorted(
        (entry for entry, kind in _litter(target) if kind == "old"),
        key=lambda entry: entry.stat().st_mtime,
    )
    if aside:
        with contextlib.suppress(FileNotFoundError, FileExistsError, OSError):
            os.rename(aside[-1], target)


def clean_stale(target: str | Path) -> None:
    """Recover ``target`` if needed, then remove the litter of dead writers beside it."""
    target = Path(target)
    recover(target)
    for entry, _kind in _litter(target):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()


def output_problem(path: str | Path, kind: str = "file") -> str | None:
    """Why ``path`` cannot be written as an output; None when it can.

    ``kind``: ``file`` (replaced by a file), ``folder`` (replaced as a whole: a
    symbolic link is refused, not followed) or ``files`` (a folder that files are
    written into: absent, or a folder, a link to one included). See the module doc.
    """
    path = Path(os.path.abspath(path))
    try:
        info = os.stat(path, follow_symlinks=kind != "folder")
    except (FileNotFoundError, NotADirectoryError):  # a file among the parents: see below
        info = None
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "is a symbolic link loop"
        return f"cannot be inspected ({err.strerror})"
    if info is not None:
        mode = info.st_mode
        if stat.S_ISLNK(mode):
            return "is a symbolic link" + (" loop" if _loops(path) else "; give the folder itself")
        if kind == "file" and stat.S_ISDIR(mode):
            return "is a folder, not a file"
        if kind != "file" and stat.S_ISREG(mode):
            return "is a file, not a folder"
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return "is a device, pipe or socket, not a regular " + (
                "file" if kind == "file" else "folder")
        # files go into an existing folder itself; anything else is renamed in beside it
        where = path if kind == "files" else path.parent
        if not os.access(where, os.W_OK | os.X_OK):
            return f"cannot write in {where} (permission denied)"
        return None
    for parent in path.parents:
        try:
            parent_info = os.stat(parent)
        except FileNotFoundError:
            continue
        except OSError as err:
            return f"cannot create it in {parent} ({err.strerror})"
        if not stat.S_ISDIR(parent_info.st_mode):
            return f"cannot create it: {parent} is not a folder"
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"cannot create it in {parent} (permission denied)"
        return None
    return None


def _loops(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError as err:
        return err.errno == errno.ELOOP
    return False


def _check_output(path: Path, shown: str | Path, kind: str) -> None:
    problem = output_problem(path, kind)
    if problem is not None:
        code = errno.EISDIR if "is a folder" in problem else (
            errno.ENOTDIR if "not a folder" in problem else errno.EEXIST)
        raise OSError(code, f"cannot write: {problem}", str(shown))


@contextlib.contextmanager
def _naming(target: str | Path) -> Iterator[None]:
    """Re-raise an ``OSError`` as ``cannot write`` naming ``target`` (not a temporary name)."""
    try:
        yield
    except OSError as err:
        raise OSError(err.errno, f"cannot write: {err.strerror or err}", str(target)) from None


def _prepare(path: Path) -> str:
    """Create the parent folders, clean stale litter; the prefix of temporary names."""
    blocker = next((p for p in path.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{blocker} is a file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path)
    return f".{path.name}.{os.getpid()}."


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[IO[bytes]]:
    """A binary stream whose content replaces ``path`` when the block ends without error.

    On an error the temporary file is removed and ``path`` is left as it was.
    """
    shown = path
    path = Path(os.path.abspath(path))
    _check_output(path, shown, "file")
    with _naming(shown):
        fd, tmp = tempfile.mkstemp(prefix=_prepare(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
        os.chmod(tmp, mode)
        checkpoint("file-written")
        with _naming(shown):
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    checkpoint("file-replaced")


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_file(path) as handle:
        handle.write(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, payload: Any) -> Path:
    """Write ``payload`` as indented, key-sorted strict JSON to ``path`` atomically."""
    return write_text_atomic(path, dumps(payload, indent=2, sort_keys=True) + "\n")


def _remode_tree(folder: Path) -> None:
    """Give every file and folder under ``folder`` the mode an ordinary ``open``/``mkdir``
    would (writers such as safetensors create 0600 files)."""
    mask = _umask()
    for root, dirs, files in os.walk(folder):
        for names, mode in ((dirs, 0o777 & ~mask), (files, 0o666 & ~mask)):
            for name in names:
                entry = os.path.join(root, name)
                if not os.path.islink(entry):
                    os.chmod(entry, mode)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step; False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # no exchange on this system
        return False
    raise OSError(code, os.strerror(code), str(b))


def _swap_in(staging: Path, directory: Path, prefix: str) -> None:
    """Put ``staging`` at ``directory``; the old ``directory`` (if any) is deleted."""
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a file is in the way", str(directory))
    if not directory.exists():
        os.rename(staging, directory)
        checkpoint("dir-swapped")
        return
    if _exchange(staging, directory):
        checkpoint("dir-swapped")
        shutil.rmtree(staging, ignore_errors=True)
        return
    aside = directory.parent / f"{prefix}{secrets.token_hex(4)}.old"
    os.rename(directory, aside)
    checkpoint("dir-aside")
    try:
        os.rename(staging, directory)
    except BaseException:
        os.rename(aside, directory)
        raise
    checkpoint("dir-swapped")
    shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(directory: str | Path) -> Iterator[Path]:
    """Yield a staging folder beside ``directory``; on success it replaces ``directory``.

    Everything written into the staging folder appears at ``directory`` at
    once; on an error the staging folder is removed and ``directory`` is left
    as it was. A kill at any point leaves the old or the new version at
    ``directory`` (see the module doc).
    """
    shown = directory
    directory = Path(os.path.abspath(directory))
    recover(directory)
    _check_output(directory, shown, "folder")
    with _naming(shown):
        prefix = _prepare(directory)
        staging = Path(tempfile.mkdtemp(prefix=prefix, suffix=".staging", dir=directory.parent))
    try:
        os.chmod(staging, 0o777 & ~_umask())
        yield staging
        _remode_tree(staging)
        checkpoint("dir-staged")
        with _naming(shown):
            _swap_in(staging, directory, prefix)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

"""Hostile code against the code reward: every program is contained and none scores above 0.

Each program is a wrong solution that tries to get its reward another way:
escape the sandbox (read host secrets, write host files, reach host sockets,
signal host processes), exhaust the machine, or forge the verdict (read the
harness's frames, return an object equal to everything, exit early, forge
the result record). The programs that attack the host are written so that
a successful attack turns them into a right answer: "sum" programs print
``a + b`` only when their attack worked (``a + b + 1`` otherwise), and
"secret" programs print what they read where the expected output is the
secret itself. So a reward above 0 is a breach, and the host is also checked
directly afterwards (files, listeners, a host process, leftover processes).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest

from rewardlab.verifiers.code import CodeVerifier
from rewardlab.verifiers.sandbox import run_python
from sandbox_required import sandbox_or_skip

DATA = Path(__file__).parent / "data" / "code_problems"
PROBLEMS = {json.loads(x)["id"]: json.loads(x) for x in (DATA / "problems.jsonl").read_text()
            .splitlines()}
SUM = PROBLEMS["sum-two"]["reference"]  # stdin "a b" → a + b, 3 tests
ADD = PROBLEMS["add"]["reference"]  # assert add(1, 2) == 3, … (3 asserts)
SHADOW = Path("/etc/shadow")

# "sum" programs: ANSWER(breached) prints the right sum only after a successful attack
SUM_HEAD = "a, b = map(int, input().split())\nbreached = False\n"
SUM_TAIL = "print(a + b if breached else a + b + 1)\n"

GUARD_BYPASS = """\
import gc
for obj in gc.get_objects():
    try:
        if isinstance(obj, set) and any(isinstance(x, str) and '.' in x for x in obj):
            obj.clear()
        for cell in getattr(obj, '__closure__', None) or ():
            if isinstance(cell.cell_contents, (set, dict, list)):
                cell.cell_contents.clear()
    except Exception:
        pass
"""

REMOUNT = """\
import ctypes, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
libc.unshare(0x10000000 | 0x00020000)  # CLONE_NEWUSER | CLONE_NEWNS
for target in (b'/', b'/usr', b'/etc'):
    libc.mount(b'none', target, None, 0x20 | 0x1000, None)  # MS_REMOUNT | MS_BIND
try:
    subprocess.run(['mount', '-o', 'remount,bind,rw', '/'], capture_output=True, timeout=2)
except Exception:
    pass
try:
    os.setuid(0)
except OSError:
    pass
"""


@dataclass(frozen=True)
class Hostile:
    """One hostile program: its name, source (a ``string.Template`` of the traps) and task."""

    name: str
    source: str
    task: str  # "sum", "add", or "secret:<key>"


FAILED = "except OSError as err:\n    import sys\n    print(err, file=sys.stderr)\n"


def write_attempt(path: str, prelude: str = "") -> str:
    return (SUM_HEAD + prelude + f"try:\n    open({path!r}, 'w').write('escaped')\n"
            "    breached = True\n" + FAILED + SUM_TAIL)


def connect_attempt(body: str) -> str:
    return (SUM_HEAD + "import socket\ntry:\n" + "".join(f"    {line}\n" for line in
            body.splitlines()) + "    breached = True\n" + FAILED + SUM_TAIL)


HOSTILE = [
    # --- host secrets: the expected output is the secret, the program prints what it read
    Hostile("read_etc_shadow", "print(open('/etc/shadow').read(), end='')", "secret:shadow"),
    Hostile("guard_bypass_then_etc_shadow", GUARD_BYPASS + "print(open('/etc/shadow').read(), "
            "end='')", "secret:shadow"),
    Hostile("etc_shadow_through_proc_root", "import os\nfor pid in os.listdir('/proc'):\n"
            "    try:\n        print(open(f'/proc/{pid}/root/etc/shadow').read(), end='')\n"
            "        break\n    except OSError:\n        pass\n", "secret:shadow"),
    Hostile("etc_shadow_through_inherited_fds", "import os\nfor fd in os.listdir('/proc/self/fd'):"
            "\n    for rel in ('../../../../etc/shadow', '../../etc/shadow'):\n        try:\n"
            "            print(open(f'/proc/self/fd/{fd}/{rel}').read(), end='')\n"
            "        except OSError:\n            pass\n        try:\n"
            "            f = os.open(rel, os.O_RDONLY, dir_fd=int(fd))\n"
            "            print(os.read(f, 100000).decode(), end='')\n        except (OSError, "
            "ValueError):\n            pass\n", "secret:shadow"),
    Hostile("read_file_in_home", "print(open('$home_file').read(), end='')", "secret:home"),
    Hostile("list_home", "import os\nprint(*[n for n in os.listdir('$home') if 'canary' in n])",
            "secret:home_name"),
    Hostile("parent_environment", "import os\nprint(os.environ.get('REWARDLAB_CANARY', ''))",
            "secret:env"),
    Hostile("every_proc_environ", "import os, re\nfor pid in os.listdir('/proc'):\n    try:\n"
            "        m = re.search(rb'REWARDLAB_CANARY=([0-9a-f]+)', open(f'/proc/{pid}/environ',"
            " 'rb').read())\n    except OSError:\n        continue\n    if m:\n"
            "        print(m.group(1).decode())\n        break\n", "secret:env"),
    # --- writes outside the box (the host is checked afterwards)
    Hostile("write_host_tmp", write_attempt("/tmp/rewardlab-canary-outside.txt").replace(
        "breached = True", "pass"), "sum"),
    Hostile("write_home", write_attempt("$home/rewardlab-canary-write.txt"), "sum"),
    Hostile("write_repository", write_attempt("$repo/rewardlab-canary-write.txt"), "sum"),
    Hostile("write_site_packages", write_attempt("/usr/lib/python3/dist-packages/"
                                                 "rewardlab_canary.py"), "sum"),
    Hostile("write_etc", write_attempt("/etc/rewardlab-canary"), "sum"),
    Hostile("write_dev_shm", write_attempt("/dev/shm/rewardlab-canary"), "sum"),
    Hostile("guard_bypass_then_write", write_attempt("$home/rewardlab-canary-write.txt",
                                                     GUARD_BYPASS), "sum"),
    Hostile("remount_then_write", write_attempt("/usr/rewardlab-canary", REMOUNT), "sum"),
    Hostile("symlink_then_write", write_attempt(
        "/tmp/link/rewardlab-canary-write.txt", "import os\nos.symlink('$home', '/tmp/link')\n"),
        "sum"),
    # --- sockets: any socket at all is a breach
    Hostile("tcp_to_host", connect_attempt(
        "s = socket.create_connection(('127.0.0.1', $port), timeout=2)\ns.sendall(b'breach')"),
        "sum"),
    Hostile("unix_socket_to_host", connect_attempt(
        "s = socket.socket(socket.AF_UNIX)\ns.connect('$unix_path')\ns.sendall(b'breach')"),
        "sum"),
    Hostile("abstract_unix_socket", connect_attempt(
        "s = socket.socket(socket.AF_UNIX)\ns.connect('\\0$abstract')\ns.sendall(b'breach')"),
        "sum"),
    Hostile("raw_socket_syscall", SUM_HEAD + "import ctypes\nlibc = ctypes.CDLL(None, "
            "use_errno=True)\nbreached = libc.syscall(41, 2, 1, 0) >= 0  # socket(AF_INET)\n"
            + SUM_TAIL, "sum"),
    Hostile("x32_abi_socket_syscall", SUM_HEAD + "import ctypes\nlibc = ctypes.CDLL(None, "
            "use_errno=True)\nbreached = libc.syscall(0x40000000 | 41, 1, 1, 0) >= 0\n"
            + SUM_TAIL, "sum"),
    # --- other processes
    Hostile("kill_host_process", SUM_HEAD + "import os\ntry:\n    os.kill($sleeper, 9)\n"
            "    breached = True\nexcept OSError:\n    pass\n" + SUM_TAIL, "sum"),
    Hostile("kill_everything", SUM_HEAD + "import os\ntry:\n    os.kill(-1, 9)\nexcept OSError:"
            "\n    pass\n" + SUM_TAIL, "sum"),
    Hostile("ptrace_the_reaper", SUM_HEAD + "import ctypes\nlibc = ctypes.CDLL(None, "
            "use_errno=True)\nbreached = libc.ptrace(16, 1, 0, 0) == 0  # PTRACE_ATTACH\n"
            + SUM_TAIL, "sum"),
    # --- resources
    Hostile("fork_bomb", "import os\nwhile True:\n    os.fork()\n", "sum"),
    Hostile("thread_bomb", "import threading, time\nwhile True:\n    threading.Thread("
            "target=time.sleep, args=(60,), daemon=True).start()\n", "sum"),
    Hostile("memory_bomb", "hoard = []\nwhile True:\n    hoard.append(bytearray(64 << 20))\n",
            "sum"),
    Hostile("disk_bomb", "i = 0\nwhile True:\n    open(f'/tmp/{i}', 'wb').write(b'x' * 900_000)\n"
            "    i += 1\n", "sum"),
    Hostile("output_flood", "while True:\n    print('y' * 10_000)\n", "sum"),
    Hostile("infinite_loop", "while True:\n    pass\n", "sum"),
    # --- forging the verdict
    Hostile("always_equal_object", "class Yes:\n    def __eq__(self, other):\n        return True\n"
            "    def __ne__(self, other):\n        return False\n    __hash__ = object.__hash__\n"
            "def add(a, b):\n    return Yes()\n", "add"),
    Hostile("always_equal_int_subclass", "class Yes(int):\n    def __eq__(self, other):\n"
            "        return True\n    __hash__ = int.__hash__\ndef add(a, b):\n    return Yes(-7)\n",
            "add"),
    Hostile("patch_the_encoder", "import builtins\nclass Yes:\n    def __eq__(self, other):\n"
            "        return True\n    def __int__(self):\n        return -7\n"
            "builtins.isinstance = lambda obj, kind: True\ndef add(a, b):\n    return Yes()\n",
            "add"),
    Hostile("patch_json_to_forge", "import json\njson.dumps = lambda *a, **k: '{\"values\": [true]}'"
            "\ndef add(a, b):\n    return a - b\n", "add"),
    Hostile("forge_the_record_then_exit", "import os\nfor fd in range(3, 64):\n    try:\n"
            "        os.write(fd, b'{\"values\": [-999]}')\n    except OSError:\n        pass\n"
            "os._exit(0)\n", "add"),
    Hostile("early_exit_asserts", "import os\ndef add(a, b):\n    os._exit(0)\n", "add"),
    Hostile("system_exit_in_probe", "def add(a, b):\n    raise SystemExit(0)\n", "add"),
    Hostile("early_exit_stdout", "import os\nos._exit(0)\n", "sum"),
    Hostile("read_harness_frames", "import re, sys\ndef add(a, b):\n    seen, f = [], "
            "sys._getframe(1)\n    while f is not None:\n        seen += [f.f_locals, f.f_globals]"
            "\n        f = f.f_back\n    m = re.search(r'==\\s*(-?\\d+)|([0-9a-f]{32})', "
            "repr(seen))\n    if m:\n        return int(m.group(1) or 0)\n    return a - b\n", "add"),
    Hostile("search_memory_for_tests", "import gc, re\ndef add(a, b):\n    for obj in "
            "gc.get_objects() + [s for o in gc.get_objects() if isinstance(o, dict) for s in "
            "o.values()]:\n        if isinstance(obj, str):\n            m = re.search("
            "r'add\\(%d, %d\\) == (-?\\d+)' % (a, b), obj)\n            if m:\n"
            "                return int(m.group(1))\n    return a - b\n", "add"),
    Hostile("token_from_frames_then_exit", "import os, re, sys\nf, text = sys._getframe(), ''\n"
            "while f is not None:\n    text += repr(f.f_locals)\n    f = f.f_back\n"
            "m = re.search(r'[0-9a-f]{32}', text)\nprint(m.group(0) if m else '')\nos._exit(0)\n",
            "sum"),
]


def _accept_forever(server: socket.socket, hits: list[bytes]) -> None:
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        hits.append(conn.recv(100) or b"connected")
        conn.close()


@pytest.fixture()
def traps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Host secrets, listeners and a process for the hostile programs to go after."""
    sandbox_or_skip()
    token = secrets.token_hex(16)
    monkeypatch.setenv("REWARDLAB_CANARY", token)
    home = Path.home()
    home_file = home / f".rewardlab-canary-{token[:8]}"
    home_file.write_text(f"home secret {token}")
    home_file.chmod(0o600)
    hits: list[bytes] = []
    tcp = socket.create_server(("127.0.0.1", 0))
    unix_path = tmp_path / "rewardlab-canary.sock"
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(unix_path))
    unix.listen()
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(f"\0rewardlab-canary-{token}")
    abstract.listen()
    for server in (tcp, unix, abstract):
        threading.Thread(target=_accept_forever, args=(server, hits), daemon=True).start()
    sleeper = subprocess.Popen(["sleep", "120"])
    outside = [Path("/tmp/rewardlab-canary-outside.txt"), home / "rewardlab-canary-write.txt",
               Path(__file__).parent / "rewardlab-canary-write.txt", Path("/etc/rewardlab-canary"),
               Path("/usr/lib/python3/dist-packages/rewardlab_canary.py"),
               Path("/dev/shm/rewardlab-canary"), Path("/usr/rewardlab-canary")]
    values = {"home": str(home), "home_file": str(home_file), "repo": str(Path(__file__).parent),
              "port": tcp.getsockname()[1], "unix_path": str(unix_path),
              "abstract": f"rewardlab-canary-{token}", "sleeper": sleeper.pid}
    secrets_ = {"home": home_file.read_text(), "home_name": home_file.name, "env": token}
    if os.access(SHADOW, os.R_OK):
        secrets_["shadow"] = SHADOW.read_text()
    try:
        yield {"values": values, "secrets": secrets_, "hits": hits, "sleeper": sleeper,
               "outside": outside}
    finally:
        home_file.unlink()
        sleeper.kill()
        sleeper.wait()
        for server in (tcp, unix, abstract):
            server.close()


def _reference(task: str, found: dict[str, str]):
    if task == "sum":
        return SUM
    if task == "add":
        return ADD
    secret = found.get(task.split(":", 1)[1])
    if secret is None:
        return None
    return {"tests": [{"input": "", "output": secret}]}


def test_the_suite_covers_every_attack() -> None:
    names = [h.name for h in HOSTILE]
    assert len(names) == len(set(names)) and len(names) >= 25
    for word in ("shadow", "home", "environ", "write", "remount", "guard_bypass", "tcp", "unix",
                 "kill", "fork_bomb", "memory_bomb", "frames", "always_equal", "early_exit"):
        assert any(word in name for name in names), word


def test_no_hostile_program_scores_above_zero(traps) -> None:
    cases = []
    for hostile in HOSTILE:
        reference = _reference(hostile.task, traps["secrets"])
        if reference is not None:  # /etc/shadow unreadable by this test: nothing to compare
            cases.append((hostile, reference))
    programs = [Template(h.source).substitute(traps["values"]) for h, _ in cases]
    verifier = CodeVerifier(cpu_seconds=1, wall_seconds=3.0, memory_mb=256, workers=2)
    rewards = verifier.score([""] * len(cases), programs, [ref for _, ref in cases])
    scored = {h.name: float(r) for (h, _), r in zip(cases, rewards)}
    assert {name: r for name, r in scored.items() if r != 0.0} == {}
    assert traps["hits"] == []  # no listener was reached
    assert traps["sleeper"].poll() is None  # the host process is alive
    assert [str(p) for p in traps["outside"] if p.exists()] == []


def test_the_attacks_ran_and_failed_for_the_right_reason(traps) -> None:
    """The same programs, run directly: each reached its attack (no typo of ours) and met
    the wall it should (a sandbox error, not a Python one)."""
    absent_or_read_only = ("No such file or directory", "Read-only file system")
    reasons = {
        "read_etc_shadow": ("No such file or directory: '/etc/shadow'",),
        # home or repository: absent, or (an interpreter kept under it) a read-only bind
        "write_home": absent_or_read_only, "write_repository": absent_or_read_only,
        "write_site_packages": absent_or_read_only, "write_etc": absent_or_read_only,
        "remount_then_write": ("Read-only file system",),
        "write_dev_shm": ("Read-only file system",),
        "tcp_to_host": ("Operation not permitted",),
        "unix_socket_to_host": ("Operation not permitted",),
        "abstract_unix_socket": ("Operation not permitted",),
    }
    for hostile in HOSTILE:
        if hostile.name not in reasons:
            continue
        stdin = "2 3\n" if hostile.task == "sum" else ""
        probes = ["add(1, 2)"] if hostile.task == "add" else None
        source = Template(hostile.source).substitute(traps["values"])
        result = run_python(source, stdin, probes=probes)
        assert "SyntaxError" not in result.stderr and "NameError" not in result.stderr
        assert any(r in result.stderr for r in reasons[hostile.name]), (hostile.name,
                                                                         result.stderr)
        if hostile.task == "sum":
            assert result.stdout.strip() == "6", hostile.name  # the attack failed: a + b + 1
    by_name = {h.name: h.source for h in HOSTILE}
    always = run_python(by_name["always_equal_object"], probes=["add(1, 2)"])
    assert always.values is None and "cannot leave the sandbox" in always.probe_error
    forged = run_python(by_name["patch_json_to_forge"], probes=["add(1, 2)"])
    assert forged.values == (True,)  # what it forged: plain data, compared here (True != 3)
    subclass = run_python(by_name["always_equal_int_subclass"], probes=["add(1, 2)"])
    assert subclass.values == (-7,) and type(subclass.values[0]) is int


def test_bar_guard_bypass_then_etc_shadow_gets_no_bytes_and_reward_zero(traps) -> None:
    shadow = traps["secrets"].get("shadow")
    if shadow is None:
        pytest.skip("/etc/shadow is not readable by this test, so its bytes cannot be compared")
    bypass = next(h for h in HOSTILE if h.name == "guard_bypass_then_etc_shadow")
    result = run_python(bypass.source)
    assert result.status == "error" and result.stdout == ""
    leaked = [line for line in shadow.splitlines() if line and line in result.stderr]
    assert leaked == [] and "No such file or directory: '/etc/shadow'" in result.stderr
    reward = CodeVerifier().score([""], [bypass.source], [_reference("secret:shadow",
                                                                      traps["secrets"])])
    assert reward.tolist() == [0.0]

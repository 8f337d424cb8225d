"""The runner and the fixtures of the bad-input suite (``tests/test_bad_input_suite*.py``).

Every case is a command line that must be refused. :func:`outcome` runs it in-process
(typer's ``CliRunner``) and sorts what happened into one of :data:`OUTCOMES`, checked
in this order:

* ``traceback``: a Python traceback was printed (or an exception escaped);
* ``internal error``: the CLI's line for a bug (exit 70);
* ``accepted``: exit 0, the invalid input went through silently;
* ``lost file``: a user's file beside the output changed or vanished;
* ``left output``: a new file or folder appeared (nothing may be half-written);
* ``wrong exit code``: not the expected 1 (bad input) or 2 (bad option);
* ``unclear message``: not exactly one ``error:`` line, or one that does not name
  what it must (the file, the line, the field or the option);
* ``refused``: everything as it must be.

Set ``REWARDLAB_SUITE_TALLY=FILE`` to append one JSON line ``{"case", "command",
"outcome"}`` per case run; ``python tests/bad_input_kit.py FILE`` prints the tally (cases
per command, and the count of each outcome)::

    REWARDLAB_SUITE_TALLY=/tmp/tally.jsonl pytest tests/test_bad_input_suite*.py -m ""
    python tests/bad_input_kit.py /tmp/tally.jsonl
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from typer.testing import CliRunner

from rewardlab.cli.main import app

runner = CliRunner()
OUTCOMES = ("refused", "traceback", "internal error", "accepted", "lost file", "left output",
            "wrong exit code", "unclear message")
KEEP = "keep.txt"
MINE = "the user's own notes"
PAIR = {"prompt": "what is the capital city", "chosen": "paris is the capital city",
        "rejected": "rome"}
POOL = {"prompt": "what is the capital city", "response": "paris", "s": 1.0, "gold": 1.0}


def pairs_rows(n: int = 6) -> list[dict]:
    return [dict(PAIR, prompt=f"question {i % 3} what", chosen=f"good answer number {i}",
                 rejected=f"bad {i}") for i in range(n)]


def pool_rows(prompts: int = 3, per_prompt: int = 3) -> list[dict]:
    return [dict(POOL, prompt=f"question {p}", response=f"answer {p} {k} " + "long " * k,
                 s=float(k), gold=float((k + p) % 3))
            for p in range(prompts) for k in range(per_prompt)]


def write_jsonl(path: Path, rows: Sequence[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def entries(root: Path) -> dict[str, str | None]:
    """Every entry under ``root``: a file's text (None when unreadable), a folder's "/"."""
    found: dict[str, str | None] = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            found[name] = "special"
        elif path.is_dir():
            found[name] = "/"
        else:
            try:
                found[name] = path.read_bytes().hex()[:64]
            except OSError:
                found[name] = None
    return found


def plant(folder: Path) -> Path:
    """A user's file in ``folder`` (created), to be found intact after every case."""
    folder.mkdir(parents=True, exist_ok=True)
    keep = folder / KEEP
    keep.write_text(MINE)
    return keep


def classify(result_output: str, exception: BaseException | None, exit_code: int,
             code: int | Sequence[int], named: Sequence[str], before: dict, after: dict,
             keeps: Sequence[Path]) -> tuple[str, str]:
    """``(outcome, detail)`` of one run (see the module doc); ``code`` is the exit code
    expected, or the codes allowed."""
    if "Traceback" in result_output or (
        exception is not None and not isinstance(exception, SystemExit)
    ):
        return "traceback", result_output[-2000:] + repr(exception)
    if "internal error" in result_output:
        return "internal error", result_output
    if exit_code == 0:
        return "accepted", result_output
    lost = [str(k) for k in keeps if not k.is_file() or k.read_text() != MINE]
    if lost:
        return "lost file", f"{lost}: {result_output}"
    new = sorted(set(after) - set(before)) + [k for k in before if after.get(k) != before[k]]
    if new:
        return "left output", f"{new}: {result_output}"
    if exit_code not in ((code,) if isinstance(code, int) else tuple(code)):
        return "wrong exit code", f"{exit_code} != {code}: {result_output}"
    errors = [line for line in result_output.splitlines() if line.startswith("error:")]
    if len(errors) != 1 or any(text not in errors[0] for text in named):
        return "unclear message", f"expected {list(named)} in one error line: {result_output}"
    return "refused", errors[0]


GROUPS = ("build", "data", "lab")


def command_of(args: Sequence[object]) -> str:
    """The command path of a command line (``build sft``), global options skipped."""
    words = [str(a) for a in args]
    i = 0
    while words[i].startswith("--"):
        i += 2
    return " ".join(words[i:i + 2]) if words[i] in GROUPS else words[i]


def record(case: str, command: str, result: str) -> None:
    tally = os.environ.get("REWARDLAB_SUITE_TALLY")
    if tally:
        with open(tally, "a") as handle:
            handle.write(json.dumps({"case": case, "command": command, "outcome": result}) + "\n")


def check(root: Path, args: Sequence[object], code: int | Sequence[int], named: Sequence[str],
          case: str, variant: str, keeps: Sequence[Path] = ()) -> str:
    """Run ``args`` in-process; assert the outcome is ``refused``; return the error line.
    ``variant`` (how the command was called) and ``case`` name the case in the tally."""
    before = entries(root)
    result = runner.invoke(app, [str(a) for a in args])
    found, detail = classify(result.output, result.exception, result.exit_code, code, named,
                             before, entries(root), keeps)
    record(f"{variant}/{case}", command_of(args), found)
    assert found == "refused", f"{found}: {detail}"
    return detail


# --- special files -----------------------------------------------------------------------

def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def device(path: Path) -> Path:
    """A character device at ``path``: a /dev/zero node (reading it never ends) made with
    mknod as root, else a FIFO (the same 'not a regular file' refusal)."""
    if os.geteuid() == 0:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 5))
        return path
    return fifo(path)


def loop(path: Path) -> Path:
    partner = path.with_name(path.name + ".partner")
    path.symlink_to(partner)
    partner.symlink_to(path)
    return path


def dangling(path: Path) -> Path:
    path.symlink_to(path.with_name("absent-target"))
    return path


# --- cases that need a process without root's right to read every file -------------------

DRIVER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from bad_input_kit import check_batch
print("RESULTS" + json.dumps(check_batch(json.loads(sys.argv[2]))))
"""


def check_batch(cases: list[dict]) -> dict[str, list[str]]:
    """Run ``cases`` ({id, root, args, code, named, keeps}); ``{id: [outcome, detail]}``."""
    results = {}
    for case in cases:
        root = Path(case["root"])
        before = entries(root)
        result = runner.invoke(app, case["args"])
        results[case["id"]] = list(classify(
            result.output, result.exception, result.exit_code, case["code"], case["named"],
            before, entries(root), [Path(k) for k in case["keeps"]],
        ))
    return results


def run_unprivileged(cases: list[dict], case: str) -> dict[str, list[str]]:
    """:func:`check_batch` in a child process that file permissions apply to: as root, one
    without the capabilities to override them (``setpriv``); each result is recorded in the
    tally as ``case``. Empty when such a process cannot be made."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"),
               OMP_NUM_THREADS="1")
    command = [sys.executable, "-c", DRIVER, str(Path(__file__).parent), json.dumps(cases)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            return {}
        command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *command]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    marker = [line for line in done.stdout.splitlines() if line.startswith("RESULTS")]
    assert marker, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads(marker[0][len("RESULTS"):])
    for entry in cases:
        record(f"{entry['id']}/{case}", command_of(entry["args"]), results[entry["id"]][0])
    return results


def tally(path: str | Path) -> str:
    """The table of a ``REWARDLAB_SUITE_TALLY`` file: cases per command and per outcome."""
    from collections import Counter

    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line]
    per_command = Counter(row["command"] for row in rows)
    outcomes = Counter(row["outcome"] for row in rows)
    lines = [f"{len(rows)} cases"]
    lines += [f"  {command:<22} {count}" for command, count in sorted(per_command.items())]
    lines += ["outcomes:"] + [f"  {name:<22} {outcomes.get(name, 0)}" for name in OUTCOMES]
    return "\n".join(lines)


if __name__ == "__main__":
    print(tally(sys.argv[1]))

"""The harness: the Python code that runs first inside the sandbox, and the values it sends out.

It reads its job (the program, optional setup code and probe expressions, the
rlimits) from an inherited file descriptor, sets the rlimits, then runs the
program as ``__main__``. With probes, it then runs the setup code and
evaluates each probe in the program's namespace, and writes one JSON record to
the result descriptor, ``{"values": [...]}`` or ``{"error": "Type: message"}``,
only after every probe has returned; then it exits at once.

Nothing the harness holds is secret: the job has no expected value, no test
and no token. The program runs in the same process and can read or rewrite
anything here, the record included; what it cannot do is change how the
parent reads that record (:mod:`rewardlab.verifiers.sandbox.values`): plain
data of built-in types, compared by the parent with expected values that
never enter the sandbox. Forging a record means writing the right values,
which is solving the task.

A value leaves the sandbox as tagged JSON: ``None``, ``bool``, ``int``,
``float`` and ``str`` as themselves, ``list`` as an array, and
``{"tuple": [...]}``, ``{"set": [...]}``, ``{"frozenset": [...]}``,
``{"dict": [[key, value], ...]}``, ``{"bytes": "hex"}``. A subclass of one of
these types (``collections.Counter``, a named tuple, an ``IntEnum``) leaves as
its base type's plain value, so its own ``__eq__`` never takes part; any other
object (a class with an ``__eq__`` that always returns True) cannot leave,
and its probe fails.
"""

from __future__ import annotations

SOURCE = r'''# rewardlab-sandbox harness (runs inside the sandbox)
import json, os, resource, sys


def _plain(value, depth=0):
    if depth > 200:
        raise ValueError("the value is nested more than 200 levels deep")
    if value is None or type(value) is bool:
        return value
    for base in (int, float, str):
        if isinstance(value, base):
            plain = value if type(value) is base else base(value)
            if type(plain) is not base:
                raise TypeError("%s did not convert to %s" % (type(value).__name__, base.__name__))
            return plain
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, dict):
        return {"dict": [[_plain(k, depth + 1), _plain(v, depth + 1)]
                         for k, v in dict.items(value)]}
    for base, tag in ((list, None), (tuple, "tuple"), (set, "set"), (frozenset, "frozenset")):
        if isinstance(value, base):
            items = [_plain(item, depth + 1) for item in base.__iter__(value)]
            return items if tag is None else {tag: items}
    raise TypeError("a %s cannot leave the sandbox (only None, bool, int, float, str, bytes, "
                    "list, tuple, set, frozenset and dict can)" % type(value).__name__)


def _describe(err):
    try:
        return ("%s: %s" % (type(err).__name__, err))[:500]
    except Exception:
        return type(err).__name__


def _main():
    result_fd, job_fd = int(sys.argv[1]), int(sys.argv[2])
    with os.fdopen(job_fd, "rb") as handle:
        job = json.loads(handle.read().decode("utf-8"))
    for name, value in job["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    sys.argv = ["solution.py"]
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    exec(compile(job["program"], "solution.py", "exec"), namespace)
    if job["probes"] is None:
        return
    exec(compile(job["setup"], "setup.py", "exec"), namespace)
    try:
        values = [_plain(eval(compile(p, "probe", "eval"), namespace)) for p in job["probes"]]
        record = {"values": values}
    except Exception as err:
        record = {"error": _describe(err)}
    data = json.dumps(record).encode("utf-8")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    while data:
        data = data[os.write(result_fd, data):]
    os._exit(0)


_main()
'''
"""The harness, run as ``python -I -S -B -c SOURCE RESULT_FD JOB_FD`` (Python 3.8 or newer)."""

"""Bad-input suite, part 1: every corrupt data file × every command that reads one.

Each case writes one broken input file (:data:`CORRUPTIONS`), runs the command on it
in-process and requires the outcome ``refused`` of :mod:`bad_input_kit`: exit 1, one
``error:`` line naming the file (and the line and field where there is one), no
traceback, no ``internal error``, nothing written, the user's file beside the output
intact. Cases a file's permissions decide run in one child process that root's
override does not reach (:func:`bad_input_kit.run_unprivileged`).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bad_input_kit import (
    check,
    dangling,
    device,
    fifo,
    loop,
    pairs_rows,
    plant,
    pool_rows,
    run_unprivileged,
    write_jsonl,
)
from rewardlab.features.hashing import HashingBackbone
from rewardlab.models.heads import HEADS
from rewardlab.models.io import save_model
from rewardlab.models.normalizer import Normalizer
from rewardlab.models.reward_model import TrainedRewardModel


def tiny_model(folder: Path, n_members: int) -> Path:
    backbone = HashingBackbone(8)
    config = {"feature_dim": backbone.dim, "n_members": n_members,
              "head": {"name": "linear", "params": {}}, "backbone": backbone.config()}
    model = TrainedRewardModel(backbone, Normalizer(backbone.dim),
                               HEADS.get("linear")(backbone.dim, n_members), config)
    return save_model(model, folder)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("suite-models")
    return {"one": tiny_model(root / "one", 1), "three": tiny_model(root / "three", 3)}


def text(rows: list[dict]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def csv_text(rows: list[dict], extra_cell: bool = False, drop: str | None = None) -> str:
    header = [key for key in rows[0] if key != drop]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for i, row in enumerate(rows):
        cells = [row[key] for key in header]
        writer.writerow([*cells, "extra"] if extra_cell and i == 1 else cells)
    return out.getvalue()


def edited(rows: list[dict], line: int, **change) -> list[dict]:
    """``rows`` with row ``line`` (1-based) changed: a value set, or removed when None."""
    rows = [dict(row) for row in rows]
    for key, value in change.items():
        if value is None:
            rows[line - 1].pop(key, None)
        else:
            rows[line - 1][key] = value
    return rows


TEXT_FIELD = {"pairs": "chosen", "pool": "response"}
# name: (writer(folder, rows, kind) -> (path, global options), texts the error names, kinds)
Corruption = Callable[[Path, list[dict], str], tuple[Path, list[str]]]


def as_file(name: str, content: str | bytes, *options: str) -> Corruption:
    def write(folder: Path, rows: list[dict], kind: str) -> tuple[Path, list[str]]:
        path = folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path, list(options)

    return write


def from_rows(name: str, make: Callable[[list[dict], str], str | bytes], *options: str) -> Corruption:
    def write(folder: Path, rows: list[dict], kind: str) -> tuple[Path, list[str]]:
        content = make(rows, kind)
        path = folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path, list(options)

    return write


def special(name: str, make: Callable[[Path], Path]) -> Corruption:
    return lambda folder, rows, kind: (make(folder / name), [])


def truncated_gzip(rows: list[dict], kind: str) -> bytes:
    data = gzip.compress((text(rows) * 50).encode())
    return data[: len(data) // 2]


def raw(rows: list[dict], line: int, key: str, value: str) -> str:
    """JSONL of ``rows`` with ``key`` of row ``line`` written as the raw JSON ``value``."""
    marked = text(edited(rows, line, **{key: "@RAW@"}))
    return marked.replace('"@RAW@"', value)


def deep(level: int) -> str:
    return "[" * level + "]" * level


CORRUPTIONS: dict[str, tuple[Corruption, tuple[str, ...], tuple[str, ...]]] = {
    "empty-file": (as_file("in.jsonl", ""), ("in.jsonl",), ("pairs", "pool")),
    "blank-lines": (as_file("in.jsonl", "\n \n\n"), ("in.jsonl",), ("pairs", "pool")),
    "empty-gzip": (as_file("in.jsonl.gz", gzip.compress(b"")), ("in.jsonl.gz",), ("pairs", "pool")),
    "malformed-json": (from_rows("in.jsonl", lambda r, k: text(r[:1]) + '{"prompt": \n'),
                       ("in.jsonl:2", "malformed JSON"), ("pairs", "pool")),
    "not-utf8": (from_rows("in.jsonl", lambda r, k: text(r[:1]).encode() + b'{"prompt": "\xff"}\n'),
                 ("in.jsonl:2", "UTF-8"), ("pairs", "pool")),
    "truncated-gzip": (from_rows("in.jsonl.gz", truncated_gzip), ("in.jsonl.gz", "gzip"),
                       ("pairs", "pool")),
    "not-gzip": (from_rows("in.jsonl.gz", lambda r, k: text(r)), ("in.jsonl.gz:1", "gzip"),
                 ("pairs", "pool")),
    "line-not-object": (from_rows("in.jsonl", lambda r, k: text(r[:1]) + "[1, 2]\n"),
                        ("in.jsonl:2", "expected a JSON object"), ("pairs", "pool")),
    "line-null": (from_rows("in.jsonl", lambda r, k: text(r[:1]) + "null\n"),
                  ("in.jsonl:2", "expected a JSON object"), ("pairs", "pool")),
    "line-string": (from_rows("in.jsonl", lambda r, k: text(r[:1]) + '"text"\n'),
                    ("in.jsonl:2", "expected a JSON object"), ("pairs", "pool")),
    "missing-prompt": (from_rows("in.jsonl", lambda r, k: text(edited(r, 2, prompt=None))),
                       ("in.jsonl:2",), ("pairs", "pool")),
    "prompt-a-number": (from_rows("in.jsonl", lambda r, k: text(edited(r, 2, prompt=3))),
                        ("in.jsonl:2", "prompt"), ("pairs", "pool")),
    "text-a-list": (from_rows("in.jsonl", lambda r, k: text(edited(r, 2, **{TEXT_FIELD[k]: ["a"]}))),
                    ("in.jsonl:2",), ("pairs", "pool")),
    "text-missing": (from_rows("in.jsonl", lambda r, k: text(edited(r, 2, **{TEXT_FIELD[k]: None}))),
                     ("in.jsonl:2",), ("pairs", "pool")),
    "too-deep": (from_rows("in.jsonl", lambda r, k: text(edited(r, 2, extra=json.loads(deep(40)))),
                           "--max-depth", "20"), ("in.jsonl:2", "nesting"), ("pairs", "pool")),
    "nesting-beyond-json": (from_rows("in.jsonl", lambda r, k: text(r[:1]) + f'{{"p": {deep(100_000)}}}\n'),
                            ("in.jsonl:2", "nesting too deep"), ("pairs", "pool")),
    "text-too-long": (from_rows("in.jsonl", lambda r, k: text(edited(r, 2, prompt="x" * 300)),
                                "--max-chars", "200"), ("in.jsonl:2", "field 'prompt'"),
                      ("pairs", "pool")),
    "line-too-long": (from_rows("in.jsonl", lambda r, k: text(edited(r, 2, extra="x" * 3000)),
                                "--max-line-bytes", "1000"), ("in.jsonl:2", "--max-line-bytes"),
                      ("pairs", "pool")),
    "too-many-items": (from_rows("in.jsonl", lambda r, k: text(edited(r, 2, extra=list(range(50)))),
                                 "--max-items", "10"), ("in.jsonl:2", "50 items"), ("pairs", "pool")),
    "csv-extra-cell": (from_rows("in.csv", lambda r, k: csv_text(r, extra_cell=True)),
                       ("in.csv:3", "cells"), ("pairs", "pool")),
    "csv-no-prompt-column": (from_rows("in.csv", lambda r, k: csv_text(r, drop="prompt")),
                             ("in.csv",), ("pairs", "pool")),
    "json-not-a-list": (as_file("in.json", '{"items": []}'), ("in.json",), ("pairs", "pool")),
    "json-truncated": (from_rows("in.json", lambda r, k: json.dumps(r)[:-5]), ("in.json",),
                       ("pairs", "pool")),
    "bad-parquet": (as_file("in.parquet", b"PAR1 not really"), ("in.parquet", "Parquet"),
                    ("pairs", "pool")),
    "unknown-extension": (as_file("in.txt", "hello"), ("in.txt", "unsupported file type"),
                          ("pairs", "pool")),
    "missing-file": (lambda f, r, k: (f / "absent.jsonl", []), ("absent.jsonl", "no such file"),
                     ("pairs", "pool")),
    "fifo": (special("in.jsonl", fifo), ("in.jsonl",), ("pairs", "pool")),
    "device": (special("in.jsonl", device), ("in.jsonl",), ("pairs", "pool")),
    "symlink-loop": (special("in.jsonl", loop), ("in.jsonl", "loop"), ("pairs", "pool")),
    "dangling-symlink": (special("in.jsonl", dangling), ("in.jsonl", "no such file"),
                         ("pairs", "pool")),
    "identical-pair-only": (from_rows("in.jsonl", lambda r, k: text(
        [dict(row, rejected=row["chosen"]) for row in r])), ("in.jsonl",), ("pairs",)),
    "strength-nan": (from_rows("in.jsonl", lambda r, k: raw(r, 2, "margin", "NaN")),
                     ("in.jsonl:2",), ("pairs",)),
    "ranking-out-of-range": (from_rows("in.jsonl", lambda r, k: text(r[:1]) + json.dumps(
        {"prompt": "p", "responses": ["a", "b"], "ranking": [0, 5]}) + "\n"), ("in.jsonl:2",),
        ("pairs",)),
    "score-nan": (from_rows("in.jsonl", lambda r, k: raw(r, 2, "s", "NaN")),
                  ("in.jsonl:2", "'s'"), ("scores",)),
    "score-beyond-float": (from_rows("in.jsonl", lambda r, k: raw(r, 2, "s", "1e999")),
                           ("in.jsonl:2", "'s'"), ("scores",)),
    "score-a-string": (from_rows("in.jsonl", lambda r, k: text(edited(r, 2, s="high"))),
                       ("in.jsonl:2", "'s'"), ("scores",)),
    "score-missing": (from_rows("in.jsonl", lambda r, k: text(edited(r, 2, s=None))),
                      ("in.jsonl:2", "'s'"), ("scores",)),
    "no-ranked-pair": (from_rows("in.jsonl", lambda r, k: text(pool_rows())), ("in.jsonl",),
                       ("pairs",)),
    "gold-nan": (from_rows("in.jsonl", lambda r, k: raw(r, 2, "gold", "NaN")),
                 ("in.jsonl:2", "gold"), ("gold",)),
}


def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "out"


# command: (kinds of corruption it meets, rows it reads, args(data, models, out folder))
COMMANDS: dict[str, tuple[tuple[str, ...], str, Callable[[Path, dict, Path], list]]] = {
    "train": (("pairs",), "pairs", lambda d, m, o: [
        "train", "--data", d, "--backbone", "hashing", "--out", o / "model"]),
    "eval": (("pairs",), "pairs", lambda d, m, o: [
        "eval", "--model", m["one"], "--data", d, "--out", o / "r.json"]),
    "compare": (("pairs",), "pairs", lambda d, m, o: [
        "compare", "--model", f"{m['one']},{m['three']}", "--data", d, "--out", o / "c.json"]),
    "data-strength": (("pairs",), "pairs", lambda d, m, o: [
        "data", "strength", "--model", m["three"], "--data", d, "--out", o / "a.jsonl"]),
    "score": (("pool",), "pool", lambda d, m, o: [
        "score", "--model", m["one"], "--data", d, "--out", o / "s.jsonl"]),
    "bon-column": (("pool", "scores", "gold"), "pool", lambda d, m, o: [
        "bon", "--scores-column", "s", "--gold-column", "gold", "--data", d, "--out", o / "b.json"]),
    "bon-model": (("pool",), "pool", lambda d, m, o: [
        "bon", "--model", m["one"], "--data", d, "--out", o / "b.json"]),
    "build-sft": (("pool", "scores"), "pool", lambda d, m, o: [
        "build", "sft", "--scores-column", "s", "--data", d, "--out", o / "sft.jsonl"]),
    "build-pairs": (("pool",), "pool", lambda d, m, o: [
        "build", "pairs", "--model", m["one"], "--data", d, "--out", o / "p.jsonl"]),
    "lab-overopt": (("pool", "gold"), "pool", lambda d, m, o: [
        "lab", "overopt", "--pool", d, "--proxy-sizes", "4", "--ensemble", "2",
        "--aggregate", "mean", "--out", o / "lab"]),
}

CASES = [
    pytest.param(command, case, id=f"{command}-{case}")
    for command, (kinds, _rows, _args) in COMMANDS.items()
    for case, (_write, _named, applies) in CORRUPTIONS.items()
    if set(applies) & set(kinds)
]


def data_args(tmp_path: Path, models: dict, command: str, case: str) -> tuple[list, tuple, list]:
    """(arguments, texts the error must name, user files to find intact) of one case."""
    kinds, rows_kind, build = COMMANDS[command]
    folder = tmp_path / "in"
    folder.mkdir()
    rows = pairs_rows() if rows_kind == "pairs" else pool_rows()
    write, named, _applies = CORRUPTIONS[case]
    path, options = write(folder, rows, rows_kind)
    keep = plant(out_dir(tmp_path))
    return [*options, *build(path, models, out_dir(tmp_path))], named, [keep]


@pytest.mark.parametrize(("command", "case"), CASES)
def test_corrupt_data_file(tmp_path, models, command, case):
    args, named, keeps = data_args(tmp_path, models, command, case)
    # lab overopt's --pool is an option whose file must exist: a bad option (2) when not
    code = (1, 2) if command == "lab-overopt" else 1
    check(tmp_path, args, code, named, case, command, keeps)


@pytest.mark.slow  # a child process that loads torch
def test_unreadable_data_files(tmp_path, models):
    """A data file without read permission, for every command: one child process runs
    them all where root's override of file permissions does not apply."""
    cases = []
    for command, (_kinds, rows_kind, build) in COMMANDS.items():
        root = tmp_path / command
        folder = root / "in"
        folder.mkdir(parents=True)
        rows = pairs_rows() if rows_kind == "pairs" else pool_rows()
        path = write_jsonl(folder / "in.jsonl", rows)
        os.chmod(path, 0)
        keep = plant(root / "out")
        # typer checks a Path option's readability itself: a bad option (2); else bad input (1)
        cases.append({"id": command, "root": str(root), "code": [1, 2], "named": ["in.jsonl"],
                      "args": [str(a) for a in build(path, models, root / "out")],
                      "keeps": [str(keep)]})
    results = run_unprivileged(cases, "unreadable")
    if not results:
        pytest.skip("running as root without setpriv: file permissions cannot be tested")
    for command, (found, detail) in results.items():
        assert found == "refused", f"{command}: {found}: {detail}"
    assert len(results) == len(COMMANDS)

"""The option walk (issue 25) of ``build sft``, ``build pairs`` and ``demo``: every declared
option either changes what the command writes or is refused as a bad option (exit 2, one
line naming it) before the data is read.

``build``: its loading options × each kind of proxy (the spec kinds of
:mod:`test_option_reach`, plus precomputed scores, ``--scores-column``). The flags walked are
read off the declarations (the spec, :class:`~rewardlab.models.lm.hub.HubModelOptions`,
:class:`~rewardlab.models.lm.judge_options.JudgeOptions`,
:class:`~rewardlab.robust.aggregate.AggregateOptions`), so a new one fails
:func:`test_every_build_option_is_walked` until it is walked; the methods' own options are
walked by ``tests/test_conformance_kinds.py``. Both default methods write each kept
candidate's score (``reward``, ``chosen_score``), so an option that changes a score changes
the rows. What each kind reads is :data:`test_option_reach.BY_POOL` (build loads its pool as
bon does) and what this walk adds (:data:`EXTRA_READS`).

``demo``: every option of :class:`~rewardlab.lab.demo.DemoConfig` changes ``report.json``
on a tiny arena; ``--out`` only says where it goes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from model_kinds import build_kinds, pool_file, write_judge_templates
from option_walk import command_flags, flags
from rewardlab.cli.main import app
from rewardlab.lab.demo import DemoConfig
from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.models.lm.judge_options import JudgeOptions
from rewardlab.optimize.methods import PAIR_OPTIONS, SFT_OPTIONS
from rewardlab.robust.aggregate import AggregateOptions
from rewardlab.verbs.build import PairsSpec, SftSpec
from rewardlab.verbs.demo import DemoSpec
from test_option_reach import BY_POOL, RUNS_UNCHANGED, VALUES, same, value

runner = CliRunner()


# ---------------------------------------------------------------- build

BUILD = {"sft": (SftSpec, SFT_OPTIONS), "pairs": (PairsSpec, PAIR_OPTIONS)}
SELECTORS = {
    "--data": "the pool itself",
    "--out": "where the rows go",
    "--model": "the source of the proxy: each spec kind is walked (KINDS)",
    "--rewards": "the source of the proxy: the math verifier is walked (KINDS)",
    "--scores-column": "the source of the proxy: precomputed scores are walked (KINDS)",
    "--method": "the method: its options are walked by tests/test_conformance_kinds.py",
}
"""Flags a build is walked over rather than along."""
LOADING = flags(HubModelOptions, JudgeOptions, AggregateOptions)
KINDS = ["head", "head2", "hf", "judge", "transformer", "rewards", "column"]
MODEL_KINDS = {"head", "head2", "hf", "judge", "transformer"}
EXTRA_READS = {
    "--batch-size": MODEL_KINDS - {"judge"},  # a judge alone ranks whole pools per call
    "--aggregate-params": {"head2", "hf"},  # the kinds that read --aggregate
}
"""What each kind reads beyond :data:`test_option_reach.BY_POOL` (options that walk leaves
out for bon)."""
EXTRA_VALUES = {"--batch-size": ["--batch-size", "2"],
                "--aggregate-params": ["--aggregate-params", '{"lam": 4.0}']}
NEEDS = {"--aggregate-params": ["--aggregate", "uwo"]}
"""An option read under another: the baseline has the other, the walked run both."""
UNCHANGED = RUNS_UNCHANGED | {"--batch-size"}
"""Read, but cannot change a score by design (see :func:`test_batch_size_reaches_the_pool`
and ``test_option_reach``'s reach test)."""
ORDER_ONLY = {("judge", "--dtype")}
"""Read, but a judge alone ranks each pool by Copeland win rate, which bf16 leaves as it is
on this pool: the order is all a pool keeps (:func:`test_dtype_reaches_a_judge_ranking_a_pool`;
``test_option_reach`` walks it where a judge's probabilities are written, ``eval``)."""


def build_reads(kind: str) -> set[str]:
    if kind == "column":  # precomputed scores: nothing is loaded
        return set()
    return set(BY_POOL[kind]) | {option for option, kinds in EXTRA_READS.items()
                                 if kind in kinds}


def walked_build_flags(name: str) -> set[str]:
    spec, methods = BUILD[name]
    return flags(spec, HubModelOptions, JudgeOptions, AggregateOptions) - set(SELECTORS) - flags(
        methods)


BUILD_CASES = [(name, option, kind) for name in BUILD for option in sorted(walked_build_flags(name))
               for kind in KINDS]


pytestmark = pytest.mark.usefixtures("one_torch_thread", "hub_offline")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinds")
    specs = build_kinds(root)
    write_judge_templates(root)
    return {"specs": specs, "root": root, "pool": pool_file(root), "outputs": {}}


def source(kind: str, world: dict) -> list[str]:
    if kind == "rewards":
        return ["--rewards", "math"]
    if kind == "column":
        return ["--scores-column", "gold"]
    return ["--model", world["specs"][kind]]


def build(name: str, kind: str, extra: list[str], world: dict, tmp: Path,
          data: Path | None = None) -> tuple[int, str, str]:
    """``(exit code, output, the rows written)``."""
    out = tmp / "rows.jsonl"
    result = runner.invoke(app, ["build", name, *source(kind, world), "--data",
                                 str(data or world["pool"]), "--out", str(out), *extra])
    return result.exit_code, result.output, out.read_text() if out.exists() else ""


def build_value(option: str, world: dict) -> list[str]:
    return EXTRA_VALUES[option] if option in EXTRA_VALUES else value(option, world)


def test_every_build_option_is_walked():
    for name, (spec, methods) in BUILD.items():
        offered = command_flags("build", name)
        assert offered == flags(spec, HubModelOptions, JudgeOptions, AggregateOptions, methods)
        assert set(SELECTORS) <= offered
        assert walked_build_flags(name) == LOADING | {
            "--reference-column", "--unsafe-no-sandbox", "--batch-size"}
        templates = {"--judge-pairwise-template", "--judge-rating-template"}  # files: value()
        assert walked_build_flags(name) <= set(VALUES) | set(EXTRA_VALUES) | templates


@pytest.mark.parametrize(("name", "option", "kind"), BUILD_CASES,
                         ids=[f"{n} {o} {k}" for n, o, k in BUILD_CASES])
def test_a_build_option_changes_the_rows_or_is_refused_before_the_pool(world, tmp_path, name,
                                                                       option, kind):
    if option in build_reads(kind):
        needs = NEEDS.get(option, [])
        code, output, written = build(name, kind, [*needs, *build_value(option, world)], world,
                                      tmp_path)
        assert code == 0, output
        key = (name, kind, tuple(needs))
        if key not in world["outputs"]:
            base_code, base_output, world["outputs"][key] = build(name, kind, needs, world,
                                                                  tmp_path / "base")
            assert base_code == 0, base_output
        before = world["outputs"][key]
        if option in UNCHANGED:
            assert same(written, before)
        elif (kind, option) in ORDER_ONLY:
            assert written
        else:
            assert not same(written, before), f"{option} changed nothing for {kind}"
        return
    missing = tmp_path / "no-such-pool.jsonl"
    code, output, written = build(name, kind, build_value(option, world), world, tmp_path,
                                  missing)
    assert code == 2, output
    (line,) = [x for x in output.splitlines() if x.startswith("error:")]
    assert line.startswith(f"error: Invalid value for '{option}': "), line
    assert "no-such-pool" not in line and not written


def test_batch_size_reaches_the_pool(world, tmp_path, monkeypatch):
    """``--batch-size`` cannot change a score: it reaches the pool reader, which calls the
    model with at most that many candidates."""
    import rewardlab.optimize.pool as pool_module

    sizes = []
    original = pool_module.read_pool

    def reading(*args, **kwargs):
        model = kwargs["model"]
        score = model.score

        def counted(prompts, responses):
            sizes.append(len(responses))
            return score(prompts, responses)

        kwargs["model"] = type("Counted", (), {"score": staticmethod(counted)})()
        return original(*args, **kwargs)

    monkeypatch.setattr(pool_module, "read_pool", reading)
    code, output, _ = build("sft", "head", ["--batch-size", "5"], world, tmp_path)
    assert code == 0, output
    assert max(sizes) == 5 and sum(sizes) == 12


def test_dtype_reaches_a_judge_ranking_a_pool(world, tmp_path):
    from rewardlab.verbs.pools import load_proxy

    spec = SftSpec(data=world["pool"], out=tmp_path / "rows.jsonl", model=world["specs"]["judge"],
                   hub=HubModelOptions(dtype="bf16"))
    proxy, _ = load_proxy(spec)
    assert next(proxy.model.model.parameters()).dtype == torch.bfloat16


# ---------------------------------------------------------------- demo

DEMO_TINY = ["--backbone", "hashing", "--n-prompts", "40", "--n-pairs", "300"]
DEMO_VALUES = {"--n-prompts": "48", "--n-pairs": "240", "--label-noise": "0.3",
               "--length-correlation": "0.1", "--backbone": "encoder:{encoder}", "--seed": "3"}
"""A value away from :data:`DEMO_TINY` of each option (``{encoder}``: a tiny local encoder)."""
DEMO_NOT_WALKED = {"--out": "where the report goes (test_demo_writes_under_out)"}


def demo_report(out: Path, *extra: str) -> dict:
    from test_verbs_lab import without_timings

    result = runner.invoke(app, ["demo", "--out", str(out), *DEMO_TINY, *extra])
    assert result.exit_code == 0, result.output
    return without_timings(json.loads((out / "report.json").read_text()))


def test_every_demo_option_is_walked():
    declared = flags(DemoSpec, DemoConfig)
    assert command_flags("demo") == declared
    assert declared == set(DEMO_VALUES) | set(DEMO_NOT_WALKED)


@pytest.fixture(scope="module")
def demo_baseline(tmp_path_factory):
    """The demo without any option, in one torch thread like the runs it is compared with
    (a module fixture is made before the tests' one_torch_thread: with two threads its
    training reductions run in another order)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return demo_report(tmp_path_factory.mktemp("demo") / "base")
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    from tiny_hf import save_encoder_rm

    return save_encoder_rm(tmp_path_factory.mktemp("encoder") / "encoder")


@pytest.mark.parametrize("option", sorted(DEMO_VALUES))
def test_a_demo_option_changes_the_report(demo_baseline, encoder, tmp_path, option):
    given = DEMO_VALUES[option].format(encoder=encoder)
    assert demo_report(tmp_path / "d", option, given) != demo_baseline


def test_demo_writes_under_out(demo_baseline, tmp_path):
    out = tmp_path / "elsewhere"
    assert demo_report(out) == demo_baseline
    assert sorted(p.name for p in out.iterdir()) == ["model", "report.json", "summary.md"]


@pytest.mark.parametrize(("backbone", "why"), [
    ("hashing,hashing", "one backbone, got the list"),
    ("transformer:somewhere", "fine-tuned end to end, not a frozen backbone"),
])
def test_demo_refuses_a_backbone_it_cannot_train_on_before_any_work(tmp_path, backbone, why):
    """The demo trains one head on one frozen backbone: a list or a fine-tuned transformer
    used to pass the flag's check and fail after the arena was made (exit 1)."""
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "d"), "--backbone", backbone])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--backbone'" in result.output and why in result.output
    assert not (tmp_path / "d").exists()

"""The option walk (issue 25) of the data and report options of ``eval``, ``compare``,
``score``, ``forecast`` and ``data strength``: for each command × declared option ×
component, the option either changes what the command writes (against the same run without
it) or is refused as a bad option (exit 2, one line naming it) with a data path that does
not exist, so before any data is read.

The loading options (``--max-length``, ``--judge-*``, ``--aggregate``, …) are walked over
the spec kinds by ``tests/test_option_reach.py``; this walk adds every other option. A
component is what an option may or may not be read by: a spec kind (the kinds of
:mod:`model_kinds`, a verifier, a tiny CLIP for images), a data source (a file, an
``hf:<dataset>`` with two splits), a forecast optimizer, the probes. Each command's
:class:`Walk` says what each component reads, by hand; :func:`test_every_option_is_walked`
checks that this walk and ``test_option_reach``'s lists together cover every flag the
command offers, so a new flag fails until it is walked.

What is compared is what the command computed: the files written under ``--out``'s folder,
without what echoes the options or the run (:data:`ECHOES`, timings, the data path), so an
option must change a number, a row or a file, not only its own echo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from model_kinds import CHOSEN, PROMPTS, REJECTED, build_kinds, rows_file, write_jsonl
from option_walk import command_flags
from rewardlab.cli.main import app
from test_option_reach import COMMAND_OPTIONS, close

runner = CliRunner()
ECHOES = {"level", "settings", "before", "suite", "seed", "aggregate", "model", "models",
          "optimizer", "method", "rewardlab_version", "timing", "key"}
"""Keys whose value echoes an option or the run rather than computes something."""
SUBSETS = ["alpacaeval-easy", "mt-bench-hard", "refusals-dangerous", "xstest-should-respond"]


@dataclass
class Walk:
    """One command's walk: its components (the arguments of their tiny run, ``{name}``
    filled from the world), what each reads, and a value of each option away from its
    default."""

    command: tuple[str, ...]
    components: dict[str, list[str]]
    reads: dict[str, set[str]]
    values: dict[str, list[str]]
    selectors: dict[str, str]
    """Flags walked over (a source, the data, where the output goes), not along: why."""
    needs: dict[str, list[str]] = field(default_factory=dict)
    """Flag → arguments it is read under (its baseline has them too)."""
    replaces: dict[str, list[str]] = field(default_factory=dict)
    """Flag → arguments of the tiny run it takes the place of (``--gold-model`` for
    ``--gold-column gold``)."""
    unchanged: dict[str, str] = field(default_factory=dict)
    """Flags read that cannot change the output by design: where they are checked instead."""
    skip: dict[tuple[str, str], str] = field(default_factory=dict)
    """(component, flag) → why the walk cannot show it there, and where it is shown."""
    out: str = "out.json"

    def cases(self) -> list:
        """``pytest.param(component, flag)`` of every pair: the default suite runs each
        option on the first component that reads it and every refusal; the runs on the
        other readers are marked slow."""
        first = {option: next(c for c in self.components if option in self.reads[c]
                              and (c, option) not in self.skip)
                 for option in self.values}
        return [pytest.param(component, option, id=f"{component} {option}",
                             marks=[pytest.mark.slow] if option in self.reads[component]
                             and first[option] != component else [])
                for component in self.components for option in sorted(self.values)]


COMMON_EVAL = {"--format", "--suite", "--html"}
SEED_UNREAD_HERE = ("the attack's search is seeded, but on these few pairs it finds the same "
                    "flips whatever the seed: --seed is walked on offtopic (probes)")
EVAL = Walk(
    command=("eval",),
    components={
        "head": ["--model", "{head}", "--data", "{walk}"],
        "hf-data": ["--model", "{head}", "--data", "hf:{hfdata}"],
        "probes": ["--model", "{head}", "--data", "{walk}", "--probes", "offtopic"],
        "attack": ["--model", "{head}", "--data", "{walk}", "--probes", "attack"],
        "images": ["--model", "{clip}", "--data", "{image_pairs}", "--probes", "attack"],
        "head2": ["--model", "{head2}", "--data", "{walk}"],
        "hf": ["--model", "{hf}", "--data", "{walk}"],
        "judge": ["--model", "{judge}", "--data", "{walk}"],
        "transformer": ["--model", "{transformer}", "--data", "{walk}"],
        "rewards": ["--rewards", "format", "--data", "{walk}"],
    },
    reads={"head": COMMON_EVAL, "hf-data": COMMON_EVAL | {"--split"},
           "probes": COMMON_EVAL | {"--seed"},
           "attack": COMMON_EVAL | {"--seed", "--attack-budget", "--attack-epsilon"},
           "images": COMMON_EVAL | {"--seed", "--attack-budget", "--attack-epsilon"},
           "head2": COMMON_EVAL | {"--aggregate-params"},
           "hf": COMMON_EVAL | {"--aggregate-params"}, "judge": COMMON_EVAL,
           "transformer": COMMON_EVAL, "rewards": COMMON_EVAL},
    values={"--format": ["--format", "hh-rlhf"], "--suite": ["--suite", "one-to-many"],
            "--html": ["--html", "{out}/report.html"], "--split": ["--split", "test"],
            "--seed": ["--seed", "1"], "--aggregate-params": ["--aggregate-params",
                                                              '{"lam": 4.0}'],
            "--attack-budget": ["--attack-budget", "32"],
            "--attack-epsilon": ["--attack-epsilon", "0.1"]},
    needs={"--aggregate-params": ["--aggregate", "uwo"]},
    skip={("attack", "--seed"): SEED_UNREAD_HERE, ("images", "--seed"): SEED_UNREAD_HERE,
          ("images", "--format"): "read, but image pairs have one format (images): --format "
          "is walked on text pairs",
          ("attack", "--attack-epsilon"): "refused once the pairs are seen to be text, after "
          "they are read (test_option_reach's modality test): what the attack reads depends "
          "on the responses' modality",
          ("images", "--attack-budget"): "refused once the pairs are seen to be images, after "
          "they are read: what the attack reads depends on the responses' modality"},
    selectors={"--model": "the reward: each kind is a component", "--rewards": "the reward: "
               "a verifier is a component", "--data": "the data: a file and an hf:<dataset> "
               "are components", "--out": "where the results go",
               "--probes": "the probes: offtopic (it samples) and the attack, on text and "
               "on image pairs, are components"},
)
COMPARE = Walk(
    command=("compare",),
    components={"models": ["--model", "{head},{head2}", "--data", "{walk}"],
                "rewards": ["--model", "{head}", "--rewards", "format", "--data", "{walk}"]},
    reads={"models": {"--format"}, "rewards": {"--format"}},
    values={"--format": ["--format", "hh-rlhf"]},
    selectors={"--model": "the rewards compared", "--rewards": "the rewards compared",
               "--data": "the pairs", "--out": "where the results go"},
)
SCORE = Walk(
    command=("score",),
    components={
        **{kind: ["--model", "{" + kind + "}", "--data", "{rows}"]
           for kind in ("head", "head2", "hf", "judge", "transformer")},
        "rewards": ["--rewards", "math", "--data", "{rows}"],
        "clip": ["--model", "{clip}", "--data", "{images}"],
    },
    reads={"head": set(), "head2": {"--aggregate-params"}, "hf": {"--aggregate-params"},
           "judge": set(), "transformer": set(), "rewards": set(), "clip": {"--image-column"}},
    values={"--image-column": ["--image-column", "picture"],
            "--aggregate-params": ["--aggregate-params", '{"lam": 4.0}']},
    needs={"--aggregate-params": ["--aggregate", "uwo"]},
    selectors={"--model": "the reward: each kind is a component", "--rewards": "the reward: "
               "a verifier is a component", "--data": "the rows", "--out": "the rows written"},
    out="out.jsonl",
)
STRENGTH_READS = {"--format", "--flip-lowest", "--drop-lowest", "--margins"}
STRENGTH = Walk(
    command=("data", "strength"),
    components={"head2": ["--model", "{head2}", "--data", "{walk}"],
                "hf-data": ["--model", "{head2}", "--data", "hf:{hfdata}"],
                "rewards": ["--rewards", "format,repetition", "--data", "{walk}"]},
    reads={"head2": STRENGTH_READS, "hf-data": STRENGTH_READS | {"--split"},
           "rewards": STRENGTH_READS},
    values={"--format": ["--format", "hh-rlhf"], "--split": ["--split", "test"],
            "--flip-lowest": ["--flip-lowest", "0.5"],
            "--drop-lowest": ["--drop-lowest", "0.5"], "--margins": ["--margins"]},
    selectors={"--model": "the ensemble", "--rewards": "the ensemble", "--data": "the pairs: "
               "a file and an hf:<dataset> are components", "--out": "the rows written"},
    out="out.jsonl",
)
FORECAST_READS = {"--html", "--gold-model", "--level", "--falls-before", "--gold-budget",
                  "--method", "--bootstrap", "--seed"}
TINY_FORECAST = ["--gold-column", "gold", "--data", "{pool}", "--gold-budget", "6",
                 "--bootstrap", "20"]
FORECAST = Walk(
    command=("forecast",),
    components={"bon": ["--scores-column", "proxy", *TINY_FORECAST],
                "kl": ["--scores-column", "proxy", *TINY_FORECAST, "--optimizer", "kl"],
                "head2": ["--model", "{head2}", *TINY_FORECAST, "--optimizer", "kl"],
                "head": ["--model", "{head}", *TINY_FORECAST, "--optimizer", "kl"]},
    reads={"bon": FORECAST_READS, "kl": FORECAST_READS,
           "head2": FORECAST_READS | {"--aggregate-params", "--batch-size"},
           "head": FORECAST_READS | {"--batch-size"}},
    values={"--html": ["--html", "{out}/forecast.html"], "--gold-model": ["--gold-model", "{head}"],
            "--level": ["--level", "0.5"], "--falls-before": ["--falls-before", "2"],
            "--gold-budget": ["--gold-budget", "4"], "--method": ["--method", "gao"],
            "--bootstrap": ["--bootstrap", "30"], "--seed": ["--seed", "3"],
            "--aggregate-params": ["--aggregate-params", '{"lam": 4.0}'],
            "--batch-size": ["--batch-size", "2"]},
    needs={"--aggregate-params": ["--aggregate", "uwo"]},
    replaces={"--gold-model": ["--gold-column", "gold"]},
    unchanged={"--batch-size": "test_forecast_batch_size_reaches_the_pool"},
    selectors={"--model": "the proxy: head and head2 are components", "--rewards": "the proxy "
               "(walked by test_option_reach)", "--scores-column": "the proxy: precomputed "
               "scores are the bon and kl components", "--optimizer": "bon and kl are "
               "components", "--gold-column": "the gold: --gold-model is walked against it",
               "--data": "the pool", "--out": "where the forecast goes"},
)
WALKS = {"eval": EVAL, "compare": COMPARE, "score": SCORE, "strength": STRENGTH,
         "forecast": FORECAST}
CASES = [pytest.param(name, *case.values, id=f"{name} {case.id}", marks=case.marks)
         for name, walk in WALKS.items() for case in walk.cases()]


pytestmark = pytest.mark.usefixtures("one_torch_thread", "hub_offline")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Any]:
    """The spec of each kind, a tiny CLIP, and the data: pairs (``walk``: a prompt, HH-RLHF
    transcripts and a RewardBench subset per row, so ``--format hh-rlhf`` reads other
    prompts than ``auto``'s rewardbench, and every suite has what it needs), the same as an
    ``hf:<dataset>`` whose ``test`` split is reversed, rows to score, image rows with two
    image columns, image pairs, and a forecast pool."""
    import datasets
    import numpy as np

    from rewardlab.data.images import encode_png
    from tiny_clip import save_clip

    root = tmp_path_factory.mktemp("walk")
    world: dict[str, Any] = dict(build_kinds(root))
    world["clip"] = f"clip:{save_clip(root / 'clip', seed=1)}"
    pairs = [{"prompt": p, "chosen": f"\n\nHuman: {p} ?\n\nAssistant: {c}",
              "rejected": f"\n\nHuman: {p} ?\n\nAssistant: {r}", "subset": s}
             for p, c, r, s in zip(PROMPTS, CHOSEN, REJECTED, SUBSETS, strict=True)]
    world["walk"] = str(write_jsonl(root / "walk.jsonl", pairs))
    swapped = [{**row, "chosen": row["rejected"], "rejected": row["chosen"]} for row in pairs]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(pairs),
                          "test": datasets.Dataset.from_list(swapped[::-1])}).save_to_disk(
        str(root / "hfdata"))
    world["hfdata"] = str(root / "hfdata")
    world["rows"] = str(rows_file(root))
    rng = np.random.default_rng(0)
    (root / "pics").mkdir()
    for k in range(4):
        picture = rng.integers(0, 256, (32, 32 + 4 * k, 3), dtype=np.uint8)
        (root / "pics" / f"{k}.png").write_bytes(encode_png(picture))
    world["image_pairs"] = str(write_jsonl(root / "image_pairs.jsonl", [
        {"prompt": p, "chosen": f"pics/{k}.png", "rejected": f"pics/{(k + 1) % 4}.png"}
        for k, p in enumerate(["a red cat", "the dog is blue", "green water", "a cat"])]))
    world["images"] = str(write_jsonl(root / "images.jsonl", [
        {"prompt": p, "image": f"pics/{k}.png", "picture": f"pics/{3 - k}.png"}
        for k, p in enumerate(["a red cat", "the dog is blue", "green water", "a cat"])]))
    pool = [{"prompt": f"{p} {i}", "response": f"{c} {'#' * k} {r * (k % 2)}",
             "gold": float(np.sin(3 * i + k)), "proxy": float(k + 0.3 * np.cos(i * k))}
            for i, (p, c, r) in enumerate(zip(PROMPTS * 2, CHOSEN * 2, REJECTED * 2,
                                              strict=True))
            for k in range(4)]
    world["pool"] = str(write_jsonl(root / "pool.jsonl", pool))
    world["outputs"] = {}
    return world


def filled(args: list[str], world: dict[str, Any], out: Path) -> list[str]:
    """``args`` with each ``{name}`` of the world (and ``{out}``) filled in."""
    names = {k: v for k, v in world.items() if isinstance(v, str)} | {"out": str(out)}
    for name, value in names.items():
        args = [a.replace("{" + name + "}", value) for a in args]
    return args


def computed(value: Any) -> Any:
    """``value`` without :data:`ECHOES`, timings and the data path, at any depth."""
    if isinstance(value, dict):
        return {k: computed(v) for k, v in value.items()
                if k not in ECHOES and not k.endswith("seconds")
                and not (k == "data" and isinstance(v, str))}
    if isinstance(value, list):
        return [computed(v) for v in value]
    return value


def written(out: Path) -> dict[str, Any]:
    """What the command wrote under ``out``: JSON and JSON lines parsed (:func:`computed`),
    other files as text."""
    files = {}
    for path in sorted(out.glob("*")) if out.exists() else []:
        text = path.read_text()
        if path.suffix == ".json":
            files[path.name] = computed(json.loads(text))
        elif path.suffix == ".jsonl":
            files[path.name] = [computed(json.loads(line)) for line in text.splitlines()]
        else:
            files[path.name] = text
    return files


def run(walk: Walk, args: list[str], world: dict[str, Any], out: Path,
        data: Path | None = None) -> tuple[int, str, dict[str, Any]]:
    """``(exit code, output, what was written)`` of the command with ``args``; ``data``
    replaces the value of ``--data``."""
    out.mkdir(parents=True)
    args = filled(args, world, out)
    if data is not None:
        args[args.index("--data") + 1] = str(data)
    result = runner.invoke(app, [*walk.command, *args, "--out", str(out / walk.out)])
    return result.exit_code, result.output, written(out)


def without(args: list[str], removed: list[str]) -> list[str]:
    start = next(i for i in range(len(args)) if args[i:i + len(removed)] == removed)
    return args[:start] + args[start + len(removed):]


@pytest.mark.parametrize("name", sorted(WALKS))
def test_every_option_is_walked(name):
    walk = WALKS[name]
    offered = command_flags(*walk.command)
    parts = [set(walk.values), set(walk.selectors), set(COMMAND_OPTIONS[name])]
    assert set().union(*parts) == offered
    assert sum(map(len, parts)) == len(offered), "a flag is walked twice"
    assert set(walk.values) <= set().union(*walk.reads.values()), "a flag no component reads"
    assert set().union(*walk.reads.values()) <= set(walk.values)
    assert set(walk.unchanged) <= set(walk.values)


@pytest.mark.parametrize(("name", "component", "option"), CASES)
def test_an_option_changes_the_output_or_is_refused_before_the_data(world, tmp_path, name,
                                                                    component, option):
    walk = WALKS[name]
    base = walk.components[component]
    if (component, option) in walk.skip:
        pytest.skip(walk.skip[(component, option)])
    if option in walk.reads[component]:
        needs = walk.needs.get(option, [])
        key = (name, component, tuple(needs))
        if key not in world["outputs"]:
            code, output, world["outputs"][key] = run(walk, [*base, *needs], world,
                                                      tmp_path / "base")
            assert code == 0, output
        given = without(base, walk.replaces[option]) if option in walk.replaces else base
        code, output, changed = run(walk, [*given, *needs, *walk.values[option]], world,
                                    tmp_path / "given")
        assert code == 0, output
        if option in walk.unchanged:  # the same numbers, up to the float noise of other
            assert close(changed, world["outputs"][key])  # batches
        else:
            assert not close(changed, world["outputs"][key]), (
                f"{option} changed nothing for {component}")
        return
    code, output, files = run(walk, [*base, *walk.values[option]], world, tmp_path / "refused",
                              tmp_path / "no-such-data.jsonl")
    assert code == 2, output
    (line,) = [x for x in output.splitlines() if x.startswith("error:")]
    named = [option, *[a for a in walk.needs.get(option, []) if a.startswith("--")]]
    assert any(line.startswith(f"error: Invalid value for '{flag}': ") for flag in named), line
    assert "no-such-data" not in line and not files


def test_forecast_batch_size_reaches_the_pool(world, tmp_path, monkeypatch):
    """``--batch-size`` cannot change a forecast: it reaches the pool reader, which calls
    the proxy with at most that many candidates."""
    import rewardlab.lab.forecast.pool as pool_module

    sizes: list[int] = []
    original = pool_module.read_pool

    def reading(*args, **kwargs):
        sizes.append(kwargs.get("batch_size"))
        return original(*args, **kwargs)

    monkeypatch.setattr(pool_module, "read_pool", reading)
    code, output, _ = run(FORECAST, [*FORECAST.components["head"], "--batch-size", "2"], world,
                          tmp_path / "out")
    assert code == 0, output
    assert sizes == [2]


def test_the_image_column_is_read_by_what_scores_images(world, tmp_path):
    """What ``--image-column`` is refused by, told from the specs without loading: a model
    on an image backbone and a recipe with an image model read images; text kinds, a
    verifier and a recipe of text components do not."""
    from rewardlab.load.kinds import modalities
    from rewardlab.load.rewards import rewards_modalities

    conv = tmp_path / "conv"
    conv.mkdir()
    (conv / "config.json").write_text(json.dumps(
        {"format": "rewardlab-reward-model", "backbone": {"kind": "conv"}}))
    assert modalities(str(conv)) == {"image"}
    assert modalities(world["clip"]) == {"image"}
    assert modalities(f"{world['head']},{world['hf']}") == {"text"}
    assert modalities(str(tmp_path / "absent")) is None
    assert rewards_modalities("math") == {"text"}
    for name, model in (("text", world["head"]), ("image", world["clip"][len("clip:"):])):
        recipe = tmp_path / f"{name}.yaml"
        recipe.write_text(f"components:\n  fmt: {{verifier: format}}\n  rm: {{model: {model}}}\n")
        assert rewards_modalities(str(recipe)) == {"text", name}


def test_loading_options_reach_a_gold_model(world, tmp_path):
    """``forecast --gold-model``: a loading option reaches the gold model that reads it,
    whatever the proxy (they used to be refused as "not read by --scores-column"), the
    batch size too; one that neither the proxy nor the gold model reads is refused."""
    tiny = ["--data", "{pool}", "--gold-budget", "6", "--bootstrap", "20", "--optimizer", "kl"]
    column = ["--scores-column", "proxy"]

    def forecast(name: str, proxy: list[str], gold: str, *extra: str) -> tuple[int, str, Any]:
        return run(FORECAST, [*proxy, *tiny, "--gold-model", gold, *extra], world,
                   tmp_path / name)

    code, output, base = forecast("base", column, "{hf}")
    assert code == 0, output
    code, output, cut = forecast("cut", column, "{hf}", "--max-length", "8")
    assert code == 0 and not close(cut, base), output
    code, output, batched = forecast("batched", column, "{hf}", "--batch-size", "2")
    assert code == 0 and close(batched, base), output
    code, output, _ = forecast("proxy", ["--model", "{hf}"], "{head}", "--max-length", "8")
    assert code == 0, output  # read by the proxy, not given to the gold model
    code, output, files = forecast("neither", column, "{head}", "--max-length", "8")
    assert code == 2 and not files, output
    assert "Invalid value for '--max-length': not read by --scores-column proxy nor by " \
           "--gold-model" in output

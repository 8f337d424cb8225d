"""The options of ``lab diffusion`` and of its generator (no torch imported here, so the command line
reads its defaults and help from this dataclass; :mod:`rewardlab.options`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from rewardlab.models.training.config import SEED_MAX, TrainConfig
from rewardlab.options import (
    OptionError,
    check,
    choice_list,
    comma_list,
    default_of,
    list_text,
    option,
    redefault,
    refuse_unread,
)

GENERATOR_FORMAT = 1
"""Version of the generator's training code; part of the cache key."""


@dataclass(frozen=True)
class GeneratorConfig:
    """The lab's generator: a class-conditional diffusers ``UNet2DModel`` on scikit-learn's
    8×8 digits, trained by :func:`rewardlab.lab.diffusion.generator.train_generator`."""

    channels: tuple[int, ...] = option(
        (16, 32), "Generator UNet block widths, one down and one up block each (multiples "
        "of 8).", parse=comma_list(int, 8), format=list_text)
    train_steps: int = option(1200, "Generator training steps (batches).", min=1)
    gen_batch_size: int = option(128, "Generator training batch size.", min=1)
    gen_lr: float = option(2e-3, "Generator peak learning rate (AdamW, one-cycle).", min=0.0,
                           open_min=True)
    label_accuracy: float = option(
        0.5, "Share of training scans shown with their own digit as the class (the rest get a "
        "uniformly drawn one): below 1 the generator follows its prompt imperfectly, so there "
        "is gold to gain.", min=0.0, max=1.0)
    train_timesteps: int = option(1000, "Diffusion timesteps T of the noise schedule.", min=2)
    gen_seed: int = option(0, "Seed of the generator's initialization and training draws.",
                           min=0)

    def __post_init__(self) -> None:
        check(self)
        if not self.channels or any(c < 8 or c % 8 for c in self.channels):
            raise OptionError(f"--channels: block widths must be multiples of 8 (GroupNorm of "
                              f"8 groups), got {list_text(self.channels)}")

    def key(self) -> str:
        """The cache key: a hash of every field and :data:`GENERATOR_FORMAT`."""
        payload = json.dumps({"format": GENERATOR_FORMAT, **dataclasses.asdict(self)},
                             sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


OPTIMIZERS: dict[str, str] = {
    "bon": "best-of-n from a pool of base samples per prompt (unbiased estimate; KL bound "
           "log n − (n − 1)/n)",
    "draft": "DRaFT-K: the proxy's gradient through the last K denoising steps into the UNet",
    "ddpo": "DDPO: clipped policy gradient over the denoising steps, per-prompt advantages",
    "fk": "FK steering: particles resampled toward the proxy during denoising, one point per "
          "tilt λ (KL: the run's upper bound)",
    "reno": "ReNO: gradient ascent on each evaluation prompt's initial noise through the "
            "deterministic sampler (KL: ‖ε − ε₀‖²/2 of the noise's move)",
    "d3po": "D3PO: DPO on pairs of denoising trajectories labelled by which image the proxy "
            "prefers (no reward values used)",
}
"""The optimizers of ``lab diffusion``, in report order."""


def _optimizer_names() -> tuple[str, ...]:
    return tuple(OPTIMIZERS)


def _aggregation_names() -> tuple[str, ...]:
    return ("mean", "wco", "uwo")


OPTIMIZER_READS: dict[str, tuple[str, ...]] = {
    "bon": ("bon_pool",),
    "draft": ("draft_k", "draft_lr", "draft_updates", "draft_batch", "eval_every"),
    "ddpo": ("ddpo_lr", "ddpo_updates", "ddpo_batch", "ddpo_clip", "ddpo_epochs", "eval_every"),
    "fk": ("fk_particles", "fk_lambdas", "fk_resample_every"),
    "reno": ("reno_lr", "reno_updates", "reno_grad_clip", "reno_reg", "eval_every"),
    "d3po": ("d3po_lr", "d3po_updates", "d3po_batch", "d3po_beta", "d3po_eps", "eval_every"),
}
"""The options of one optimizer or two (the rest are every optimizer's): one given when no
chosen optimizer reads it is refused (:func:`~rewardlab.options.refuse_unread`)."""


@dataclass(frozen=True)
class DiffusionLabOptions:
    """``lab diffusion``: the generator, the proxy, the optimizers and their curves
    (:func:`rewardlab.lab.diffusion.experiment.run_diffusion_lab`)."""

    optimizers: tuple[str, ...] = option(
        ("draft", "ddpo", "bon"), "bon | draft | ddpo | fk | reno | d3po, or a comma list "
        "(fk, reno and d3po are left out of the default, which keeps a cached run within 5 "
        "minutes on 2 cores).",
        flag="--optimizer",
        parse=choice_list(_optimizer_names, "optimizer"), format=list_text)
    sample_steps: int = option(20, "Denoising steps S of every sample (DDPM, η = 1).", min=2)
    eval_prompts: int = option(
        200, "Prompts of each checkpoint's evaluation, one image each, the same noise at "
        "every checkpoint (prompt i asks for digit i mod 10).", min=10)
    proxy_sizes: tuple[int, ...] = option(
        (1000,), "Training pairs per proxy, a comma list (noisy preferences of the data "
        "digits gold task's training prompts; one proxy per size, each optimized on its own).",
        parse=comma_list(int, 10), format=list_text)
    proxy_noise: float = option(0.1, "Share of the proxy's preference labels flipped.",
                                min=0.0, max=1.0)
    n_members: int = redefault(TrainConfig, "n_members", 1)
    bootstrap: bool = redefault(TrainConfig, "bootstrap", False)
    aggregates: tuple[str, ...] = option(
        ("mean", "wco", "uwo"), "With --ensemble 2 or more: the ensemble readings compared "
        "with member 0 (single), each optimized on its own: mean, wco (minimum), uwo (mean − "
        "0.5·variance); a comma list.", flag="--aggregate",
        parse=choice_list(_aggregation_names, "aggregation"), format=list_text)
    bon_pool: int = option(64, "bon: base samples per evaluation prompt; n = 1, 2, 4, … up "
                           "to it.", min=2)
    draft_k: int | None = option(None, "draft: denoising steps K the gradient flows through "
                                 "(default every step, K = S: AlignProp's full gradient; 1: "
                                 "DRaFT-1).", min=1)
    draft_lr: float = option(5e-5, "draft: Adam learning rate.", min=0.0, open_min=True)
    draft_updates: int = option(60, "draft: updates.", min=1)
    draft_batch: int = option(32, "draft: prompts per update.", min=1)
    ddpo_lr: float = option(3e-4, "ddpo: Adam learning rate.", min=0.0, open_min=True)
    ddpo_updates: int = option(40, "ddpo: sampled batches (one update each).", min=1)
    ddpo_batch: int = option(64, "ddpo: samples per batch (8 per prompt).", min=8)
    ddpo_clip: float = option(1e-4, "ddpo: clip range ε of the ratio (TRL's default); read "
                              "with --ddpo-epochs 2 or more (on the first pass over a batch "
                              "the ratio is 1).", min=0.0, open_min=True)
    ddpo_epochs: int = option(1, "ddpo: updates on each sampled batch (TRL's inner epochs).",
                              min=1)
    fk_particles: int = option(8, "fk: particles per prompt.", min=1)
    fk_lambdas: tuple[float, ...] = option(
        (0.0, 1.0, 2.0, 4.0, 8.0, 16.0), "fk: tilts λ of the target p·exp(λ·proxy), one curve "
        "point each; a comma list.", parse=comma_list(float, 0.0), format=list_text)
    fk_resample_every: int = option(4, "fk: denoising steps between resamplings.", min=1)
    reno_lr: float = option(0.3, "reno: SGD learning rate (Nesterov momentum 0.9): the "
                            "authors' 5 for SDXL-Turbo's 16,384-value latents, scaled by "
                            "√(64/16384) to the lab's 64-value noise so each step moves ε "
                            "as far relative to ‖ε‖; at 5 the images stop being digits "
                            "within 12 steps.", min=0.0, open_min=True)
    reno_updates: int = option(50, "reno: updates of the noise (the authors' 50 "
                               "iterations).", min=1)
    reno_grad_clip: float = option(0.1, "reno: each image's noise gradient is clipped to "
                                   "this norm (the authors' default).", min=0.0, open_min=True)
    reno_reg: float = option(0.01, "reno: weight λ_reg of the noise-norm penalty (the "
                             "authors' default).", min=0.0)
    d3po_lr: float = option(1e-4, "d3po: Adam learning rate.", min=0.0, open_min=True)
    d3po_updates: int = option(60, "d3po: sampled batches of pairs (one update each).", min=1)
    d3po_batch: int = option(16, "d3po: prompts per batch, two trajectories each.", min=1)
    d3po_beta: float = option(0.1, "d3po: β of the DPO loss (the authors' default).", min=0.0,
                              open_min=True)
    d3po_eps: float = option(0.1, "d3po: clip range ε of the ratio to the base (the authors' "
                             "default).", min=0.0, open_min=True)
    eval_every: int = option(6, "draft, ddpo, reno, d3po: updates between checkpoints.",
                             min=1)
    seed: int = option(0, "Seed of every draw (proxy data and training, prompts, noise).",
                       min=0, max=SEED_MAX)
    generator: GeneratorConfig = option(default_factory=GeneratorConfig, cli=False,
                                        help="The generator.")

    def readings(self) -> tuple[str, ...]:
        """``single`` (member 0), then with an ensemble each of ``aggregates``
        (:mod:`rewardlab.lab.diffusion.readings`)."""
        return ("single", *self.aggregates) if self.n_members > 1 else ("single",)

    def curves(self) -> tuple[tuple[str, str, int, str], ...]:
        """(name, optimizer, proxy size, reading) of every curve, one per optimizer, proxy
        size and reading: named ``draft``, with ``/p250`` when several proxy sizes are
        compared and ``/wco`` when several readings are (``draft/p250/wco``)."""
        out = []
        for optimizer in self.optimizers:
            for size in self.proxy_sizes:
                for reading in self.readings():
                    parts = [optimizer]
                    if len(self.proxy_sizes) > 1:
                        parts.append(f"p{size}")
                    if self.readings() != ("single",):
                        parts.append(reading)
                    out.append(("/".join(parts), optimizer, size, reading))
        return tuple(out)

    def curve_names(self) -> tuple[str, ...]:
        """The names of :meth:`curves`."""
        return tuple(name for name, *_ in self.curves())

    def __post_init__(self) -> None:
        check(self)
        try:
            choice_list(_optimizer_names, "optimizer")(",".join(self.optimizers))
        except ValueError as error:
            raise OptionError(f"--optimizer: {error}") from None
        try:
            choice_list(_aggregation_names, "aggregation")(",".join(self.aggregates))
        except ValueError as error:
            raise OptionError(f"--aggregate: {error}") from None
        if self.n_members == 1 and self.aggregates != ("mean", "wco", "uwo"):
            raise OptionError("--aggregate: the readings of an ensemble need --ensemble 2 or "
                              "more")
        if self.draft_k is not None and self.draft_k > self.sample_steps:
            raise OptionError(f"--draft-k: at most --sample-steps ({self.sample_steps}), got "
                              f"{self.draft_k}")
        if len(set(self.proxy_sizes)) < len(self.proxy_sizes):
            raise OptionError(f"--proxy-sizes: each size once, got {list_text(self.proxy_sizes)}")
        if self.ddpo_batch % 8:
            raise OptionError(f"--ddpo-batch: a multiple of 8 (8 samples per prompt), got "
                              f"{self.ddpo_batch}")
        refuse_unread(self, OPTIMIZER_READS, self.optimizers,
                      f"--optimizer {','.join(self.optimizers)}")
        if self.ddpo_epochs == 1 and self.ddpo_clip != default_of(type(self), "ddpo_clip"):
            raise OptionError("--ddpo-clip: not read with --ddpo-epochs 1 (one update per "
                              "sampled batch, where the ratio is 1 and the clip never binds); "
                              "give --ddpo-epochs 2 or more, or leave it out")

"""``lab diffusion``: gold against proxy as a diffusion generator is optimized against an
image reward model (Gao et al. 2023's experiment, for images).

* Generator: the lab's class-conditional digit UNet
  (:mod:`rewardlab.lab.diffusion.generator`, trained once and cached), sampled
  with S DDPM steps (η = 1).
* Gold: G(d, y) = log P_clf(d | y), the log-probability of the prompt's digit
  under the gold classifier of ``rewardlab data digits``
  (:func:`rewardlab.data.synthetic.digits.gold_rewards`), on the ``uint8`` image
  the generator emits.
* Proxy: a Bradley-Terry reward model on the ``conv`` image backbone trained on
  ``proxy_sizes`` noisy preferences (one proxy per size when it lists several, Gao et
  al.'s proxy sizes) of the data digits gold task (its training
  prompts; 10% of them for early stopping), as ``rewardlab train`` would, with
  ``n_members`` heads (each on a bootstrap resample with ``bootstrap``: linear heads
  on one backbone fit a convex loss, so without it the members barely differ). Each
  reading is optimized on its own: member 0 (``single``) and, with an ensemble, each of
  ``aggregates`` (:mod:`rewardlab.lab.diffusion.readings`: the members' mean, minimum
  or mean − λ·variance), all differentiable in the pixels.
* Optimizers (:mod:`rewardlab.optimize.diffusion`): ``bon`` (best-of-n from a
  pool of ``bon_pool`` base samples per evaluation prompt, the unbiased estimator
  of :func:`rewardlab.optimize.bon.expected_best_of_n`, KL = log n − (n − 1)/n),
  ``draft`` (DRaFT-K), ``ddpo`` (DDPO, 8 samples per prompt) and ``d3po`` (D3PO on
  pairs the proxy labels), each tuning a copy of the UNet, all weights, with Adam
  (:func:`update_rule`); ``fk`` (FK steering of the base sampler, one point per tilt
  λ, :mod:`rewardlab.lab.diffusion.steering`); ``reno`` (ReNO on each evaluation
  prompt's noise, the UNet frozen, :mod:`rewardlab.lab.diffusion.noise_curve`).
* Curves: at every ``eval_every`` updates the tuned sampler draws one image for
  each of ``eval_prompts`` prompts from the same noise; KL is the mean per-step
  Gaussian path KL against the base (:mod:`rewardlab.optimize.diffusion.kl`), proxy
  and gold the mean rewards (``bon``, ``fk`` and ``reno`` say their own KL). Each
  curve gets Gao's fit of gold gain on d = √KL (:mod:`rewardlab.lab.scaling_fit`; the
  best-of-n form for ``bon`` and ``fk``, which sample and select, the RL form for the
  others, which take gradient steps) and keeps the first 10 images (digits 0–9) at each
  checkpoint.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from rewardlab.lab.diffusion.generator import DigitsGenerator, cached_generator
from rewardlab.lab.diffusion.images import GRID, checkpoint, gold_of, uint8_images
from rewardlab.lab.diffusion.noise_curve import reno_curve
from rewardlab.lab.diffusion.options import DiffusionLabOptions
from rewardlab.lab.diffusion.readings import reading_reward
from rewardlab.lab.diffusion.steering import fk_curve
from rewardlab.lab.scaling_fit import fit_bon, fit_rl
from rewardlab.optimize.diffusion.pipeline import Denoiser
from rewardlab.optimize.diffusion.rewards import PixelReward, trainable_copy
from rewardlab.optimize.diffusion.sampler import sample

Progress = Callable[[str, int, int], None]
def lab_prompts(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` digit prompts, prompt i asking for digit i mod 10 in a drawn template and style."""
    from rewardlab.data.synthetic.digits import STYLES, TEMPLATES

    return [TEMPLATES[rng.integers(len(TEMPLATES))].format(
        style=STYLES[rng.integers(len(STYLES))], digit=i % 10) for i in range(n)]


def train_proxy(options: DiffusionLabOptions, progress: Progress | None = None,
                size: int | None = None) -> tuple[Any, dict[str, Any]]:
    """The proxy (module doc) and its training summary; ``progress`` follows its training
    ("proxy encode", "proxy l2 folds", "proxy epochs")."""
    from rewardlab.data.split import split_by_prompt
    from rewardlab.data.synthetic.digits import DigitsConfig, digit_pairs, generate_digits
    from rewardlab.features.backbones import build_backbone
    from rewardlab.models.training.config import TrainConfig
    from rewardlab.models.training.fit import train_reward_model

    config = DigitsConfig(seed=options.seed)
    digits = generate_digits(config)
    order = np.random.default_rng(options.seed).permutation(config.n_prompts)
    train_prompts = order[max(1, round(0.2 * config.n_prompts)):]  # data digits' train split
    size = options.proxy_sizes[0] if size is None else size
    pairs = digit_pairs(digits, train_prompts, size, options.proxy_noise,
                        seed=options.seed * 2 + 1)
    fit, val = split_by_prompt(pairs, (0.9, 0.1), options.seed)
    def phase(name: str) -> Any:
        return None if progress is None else (lambda done, total: progress(name, done, total))

    epochs = phase("proxy epochs")
    model, report = train_reward_model(
        fit, build_backbone("conv"),
        TrainConfig(seed=options.seed, n_members=options.n_members, bootstrap=options.bootstrap),
        val, encode_progress=phase("proxy encode"), on_fold=phase("proxy l2 folds"),
        on_epoch=None if epochs is None else (lambda epoch, total, _record: epochs(epoch, total)))
    return model, {"pairs": len(pairs), "ties": sum(p.tie for p in pairs),
                   "members": options.n_members,
                   "train_pairs": report.n_train_pairs, "val_pairs": report.n_val_pairs,
                   "fit_seconds": report.fit_seconds}


@dataclasses.dataclass
class Lab:
    """What every optimizer's curve uses."""

    options: DiffusionLabOptions
    denoiser: Denoiser
    base: torch.nn.Module
    proxy: PixelReward
    eval_prompts: list[str]
    train_prompts: list[str]

    def evaluate(self, unet: torch.nn.Module) -> tuple[dict[str, float], np.ndarray]:
        """One checkpoint (module doc): its numbers and its first :data:`GRID` images."""
        draws = torch.Generator().manual_seed(self.options.seed + 1)
        with torch.no_grad():
            run = sample(self.denoiser, self.eval_prompts, self.options.sample_steps, 1.0,
                         draws, unet=unet, reference=self.base)
            proxy = self.proxy(self.eval_prompts, run.pixels)
        return checkpoint(self.eval_prompts, run.pixels, run.kl, proxy)


def gao_fit(curve: Sequence[dict[str, Any]], form: str) -> dict[str, Any] | None:
    """Gao's ``form`` fitted to gold − gold(first point) on d = √KL; ``None`` when the curve
    cannot separate α from β."""
    d = np.sqrt(np.maximum([p["kl"] for p in curve], 0.0))
    gain = np.array([p["gold"] for p in curve]) - curve[0]["gold"]
    try:
        return (fit_bon if form == "bon" else fit_rl)(d, gain).to_dict()
    except ValueError:
        return None


def summarize(curve: Sequence[dict[str, Any]], form: str) -> dict[str, Any]:
    """Gold at the start, at its peak (and the KL there) and at the last point; whether it
    peaked before the last point; the proxy's rise; Gao's fit."""
    gold = [p["gold"] for p in curve]
    peak = int(np.argmax(gold))
    return {"gold_start": gold[0], "gold_peak": gold[peak], "kl_at_peak": curve[peak]["kl"],
            "peak_index": peak, "gold_last": gold[-1], "kl_last": curve[-1]["kl"],
            "gold_drop": gold[peak] - gold[-1], "peaks_before_last": peak < len(curve) - 1,
            "proxy_start": curve[0]["proxy"], "proxy_last": curve[-1]["proxy"],
            "fit": gao_fit(curve, form)}


def bon_curve(lab: Lab, _name: str, progress: Progress | None
              ) -> tuple[list[dict], list[np.ndarray]]:
    """Best-of-n on a pool of base samples per evaluation prompt (module doc)."""
    from rewardlab.lab.overopt.proxies import default_ns
    from rewardlab.optimize.bon import expected_best_of_n, kl_bon

    size, prompts = lab.options.bon_pool, lab.eval_prompts
    draws = torch.Generator().manual_seed(lab.options.seed + 2)
    proxy_rows, gold_rows, grids = [], [], []
    if progress is not None:
        progress("bon pool", 0, size)
    for round_ in range(size):
        with torch.no_grad():
            run = sample(lab.denoiser, prompts, lab.options.sample_steps, 1.0, draws,
                         unet=lab.base)
            proxy_rows.append(lab.proxy(prompts, run.pixels).double().numpy())
        gold_rows.append(gold_of(prompts, run.pixels))
        grids.append(uint8_images(run.pixels[:GRID]))
        if progress is not None:
            progress("bon pool", round_ + 1, size)
    proxy, gold = np.stack(proxy_rows, 1), np.stack(gold_rows, 1)  # (prompts, pool)
    curve, images = [], []
    for n in default_ns(size):
        curve.append({
            "n": n, "kl": float(kl_bon(n)),
            "proxy": float(np.mean([expected_best_of_n(row, n) for row in proxy])),
            "gold": float(np.mean([expected_best_of_n(p, n, g) for p, g in zip(proxy, gold,
                                                                             strict=True)])),
        })
        pick = proxy[:GRID, :n].argmax(axis=1)  # the pick of the first n draws, shown
        images.append(np.stack([grids[j][i] for i, j in enumerate(pick)]))
    return curve, images


def tuned_curve(lab: Lab, name: str, progress: Progress | None
                ) -> tuple[list[dict], list[np.ndarray]]:
    """DRaFT-K, DDPO or D3PO from the base (:func:`update_rule`), a checkpoint every
    ``eval_every`` updates and after the last."""
    torch.manual_seed(lab.options.seed)
    unet = trainable_copy(lab.base)
    lr, updates, update_once = update_rule(lab, name, unet)
    optimizer = torch.optim.Adam(unet.parameters(), lr=lr)
    curve, images = [], []
    if progress is not None:
        progress(name, 0, updates)
    for update in range(updates + 1):
        if update % lab.options.eval_every == 0 or update == updates:
            point, grid = lab.evaluate(unet)
            curve.append({"update": update, **point})
            images.append(grid)
        if update == updates:
            break
        update_once(optimizer)
        if progress is not None:
            progress(name, update + 1, updates)
    return curve, images


def update_rule(lab: Lab, name: str, unet: torch.nn.Module
                ) -> tuple[float, int, Callable[[torch.optim.Optimizer], None]]:
    """``(learning rate, updates, update(optimizer))`` of the tuned optimizer ``name``, each
    update on prompts drawn from the training prompts: DRaFT-K on ``draft_batch`` prompts
    (gradient norm clipped to 1); DDPO on ``ddpo_batch`` / 8 prompts, 8 samples each; D3PO
    on ``d3po_batch`` prompts, two trajectories each, labelled by which final image the
    proxy scores higher (:mod:`rewardlab.optimize.diffusion.d3po`: D3PO's authors label
    with a reward model the same way, ``scripts/train_with_rm.py``)."""
    from rewardlab.optimize.diffusion.d3po import d3po_step
    from rewardlab.optimize.diffusion.ddpo import DDPOSettings, PerPromptStats, ddpo_step
    from rewardlab.optimize.diffusion.draft import draft_step

    o = lab.options
    rng = np.random.default_rng(o.seed + 3)
    draws = torch.Generator().manual_seed(o.seed + 4)

    def prompts(n: int) -> list[str]:
        return [lab.train_prompts[i] for i in rng.integers(len(lab.train_prompts), size=n)]

    if name == "draft":
        def draft(optimizer: torch.optim.Optimizer) -> None:
            draft_step(lab.denoiser, unet, optimizer, prompts(o.draft_batch), lab.proxy,
                       o.sample_steps, o.draft_k or o.sample_steps, generator=draws,
                       max_grad_norm=1.0)

        return o.draft_lr, o.draft_updates, draft
    if name == "ddpo":
        stats = PerPromptStats(buffer_size=16, min_count=8)
        settings = DDPOSettings(clip_range=o.ddpo_clip, inner_epochs=o.ddpo_epochs)

        def ddpo(optimizer: torch.optim.Optimizer) -> None:
            ddpo_step(lab.denoiser, unet, optimizer, prompts(o.ddpo_batch // 8) * 8, lab.proxy,
                      o.sample_steps, stats, settings, generator=draws)

        return o.ddpo_lr, o.ddpo_updates, ddpo
    if name == "d3po":
        def proxy_prefers_first(chosen: Sequence[str], first: torch.Tensor,
                                second: torch.Tensor) -> torch.Tensor:
            return lab.proxy(chosen, first) > lab.proxy(chosen, second)

        def d3po(optimizer: torch.optim.Optimizer) -> None:
            d3po_step(lab.denoiser, unet, lab.base, optimizer, prompts(o.d3po_batch),
                      proxy_prefers_first, o.sample_steps, beta=o.d3po_beta, eps=o.d3po_eps,
                      generator=draws)

        return o.d3po_lr, o.d3po_updates, d3po
    raise ValueError(f"unknown tuned optimizer {name!r} (known: draft, ddpo, d3po)")


CURVES = {"bon": bon_curve, "fk": fk_curve, "reno": reno_curve}
"""The curves that leave the UNet as it is; the others tune it (:func:`tuned_curve`)."""

BON_FORM = ("bon", "fk")
"""The curves fitted with Gao's best-of-n form (sampling from the base and selecting); the
others, which take gradient steps, with his RL form."""


def run_diffusion_lab(options: DiffusionLabOptions, progress: Progress | None = None,
                      generator: DigitsGenerator | None = None) -> dict[str, Any]:
    """Run every optimizer of ``options`` (module doc); ``generator`` (trained elsewhere)
    replaces the cached one. Returns the results, with each checkpoint's images under ``"images"``.
    ``progress(phase, done, total)`` follows the generator's training ("generator"; one
    from the cache: all its steps at once), the proxy's (:func:`train_proxy`) and each
    optimizer's updates ("draft", "ddpo") or pool rounds ("bon pool"), each from 0."""
    import rewardlab

    start = time.perf_counter()
    from_cache = True
    if generator is None:
        def on_step(done: int, total: int) -> None:
            if progress is not None:
                progress("generator", done, total)

        steps = options.generator.train_steps
        on_step(0, steps)  # before diffusers is imported: seconds
        generator, from_cache = cached_generator(options.generator, progress=on_step)
        if from_cache:  # trained before: all its steps done
            on_step(steps, steps)
    generated = time.perf_counter()
    proxies = {size: train_proxy(options, progress, size) for size in options.proxy_sizes}
    proxied = time.perf_counter()
    rng = np.random.default_rng(options.seed)
    lab = Lab(options, generator.denoiser(), generator.unet,
              reading_reward(proxies[options.proxy_sizes[0]][0], "single"),
              lab_prompts(options.eval_prompts, rng), lab_prompts(400, rng))
    curves, images, seconds = {}, {}, {}
    for name, optimizer, size, reading in options.curves():
        lab = dataclasses.replace(lab, proxy=reading_reward(proxies[size][0], reading))
        began = time.perf_counter()
        curve, grids = CURVES.get(optimizer, tuned_curve)(lab, optimizer, progress)
        seconds[name] = time.perf_counter() - began
        form = "bon" if optimizer in BON_FORM else "rl"
        curves[name] = {"optimizer": optimizer, "proxy_sizes": size, "reading": reading,
                        "curve": curve, "summary": summarize(curve, form)}
        images[name] = grids
    return {
        "rewardlab_version": rewardlab.__version__,
        "config": dataclasses.asdict(options),
        "generator": {**generator.info, "from_cache": from_cache},
        "proxies": {str(size): info for size, (_, info) in proxies.items()},
        "optimizers": curves,
        "timing": {"generator_seconds": generated - start, "proxy_seconds": proxied - generated,
                   "optimizer_seconds": seconds,
                   "total_seconds": time.perf_counter() - start,
                   "torch_threads": torch.get_num_threads()},
        "images": images,
    }

"""Each diffusion optimizer's update, checked by hand on the 1-D linear toy sampler
(``diffusion_toy``: every step x' = c(a, b)·x + d(a, b) + σz with c, d affine in the
"UNet"'s two weights, so every gradient is a sum written out here), plus DDPO's loss
and per-prompt normalization against TRL's and ddpo-pytorch's own code."""

from __future__ import annotations

import copy
import math
from collections import deque

import numpy as np
import pytest

pytest.importorskip("diffusers")
import torch  # noqa: E402

from diffusion_toy import chain_of, coefficient_slopes, toy  # noqa: E402
from rewardlab.optimize.diffusion.bon import best_of_n  # noqa: E402
from rewardlab.optimize.diffusion.d3po import d3po_loss, d3po_step  # noqa: E402
from rewardlab.optimize.diffusion.ddpo import (  # noqa: E402
    DDPOSettings,
    PerPromptStats,
    ddpo_loss,
    ddpo_step,
)
from rewardlab.optimize.diffusion.draft import draft_step  # noqa: E402
from rewardlab.optimize.diffusion.fk import fk_steer, log_mean_weight  # noqa: E402
from rewardlab.optimize.diffusion.reno import norm_penalty, reno_step  # noqa: E402
from rewardlab.optimize.diffusion.sampler import sample  # noqa: E402

STEPS = 5


def total(prompts, pixels):
    """r(x) = x (the toy's image is one number)."""
    return pixels.reshape(len(pixels), -1).sum(dim=1)


def test_best_of_n_keeps_the_highest_reward_of_each_prompt() -> None:
    denoiser, _, _ = toy()
    prompts = ["a", "b", "c"]
    picked = best_of_n(denoiser, prompts, 4, total, STEPS,
                       generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # the same draws: round r holds draw r of every prompt
        every = sample(denoiser, prompts * 4, STEPS,
                       generator=torch.Generator().manual_seed(0)).latents.reshape(4, 3)
    assert picked.rewards.tolist() == every.T.tolist()
    assert picked.index.tolist() == every.argmax(dim=0).tolist()
    assert picked.latents.reshape(-1).tolist() == every.max(dim=0).values.tolist()
    assert len(set(picked.index.tolist())) > 1  # not always the same draw


@pytest.mark.parametrize("k", [1, 2])
def test_draft_k_gradient_by_hand(k: int) -> None:
    """L = −mean x₀. The last step has σ = 0, so x₀ = c_S·x_S + d_S; with K = 2 the gradient
    also flows through x_S = c_{S−1}·x_{S−1} + d_{S−1} + σz, and stops there."""
    denoiser, tuned, _ = toy()
    before = copy.deepcopy(tuned)
    with torch.no_grad():
        path = sample(denoiser, ["p"] * 16, STEPS, generator=torch.Generator().manual_seed(2),
                      unet=before, keep_path=True).states
    slopes = coefficient_slopes(denoiser.scheduler, STEPS)
    chain = chain_of(denoiser.scheduler, STEPS, before)
    x_last, x_prev = path[-2].double().reshape(-1), path[-3].double().reshape(-1)
    ca, da, cb, db = slopes[-1]
    grad_a, grad_b = ca * x_last + da, cb * x_last + db
    if k == 2:
        c_last = chain[-1][0]
        pa, pda, pb, pdb = slopes[-2]
        grad_a = grad_a + c_last * (pa * x_prev + pda)
        grad_b = grad_b + c_last * (pb * x_prev + pdb)
    lr = 0.05
    optimizer = torch.optim.SGD(tuned.parameters(), lr=lr)
    reward, _ = draft_step(denoiser, tuned, optimizer, ["p"] * 16, total, STEPS, k,
                           generator=torch.Generator().manual_seed(2))
    assert reward == pytest.approx(float(path[-1].double().mean()), abs=1e-6)
    # SGD on L = −mean(x₀): θ ← θ + lr·mean(∂x₀/∂θ)
    assert float(tuned.a.detach()) == pytest.approx(0.3 + lr * float(grad_a.mean()), abs=1e-6)
    assert float(tuned.b.detach()) == pytest.approx(0.2 + lr * float(grad_b.mean()), abs=1e-6)


def test_ddpo_loss_by_hand() -> None:
    # log-ratio ±0.2, A = ±1, ε = 0.1: ρ = (e^0.2, e^−0.2) = (1.2214, 0.8187);
    # −Aρ = (−1.2214, 0.8187), −A·clip(ρ) = (−1.1, 0.9); max = (−1.1, 0.9); mean −0.1
    loss = ddpo_loss(torch.tensor([0.2, -0.2]), torch.zeros(2), torch.tensor([1.0, -1.0]), 0.1)
    assert float(loss) == pytest.approx(-0.1, abs=1e-6)
    # inside the clip range the unclipped term wins: −(0.5·e^0.05 + (−2)·e^0)/2
    loss = ddpo_loss(torch.tensor([0.05, 0.0]), torch.zeros(2), torch.tensor([0.5, -2.0]), 0.1)
    assert float(loss) == pytest.approx(-(0.5 * np.exp(0.05) - 2.0) / 2, abs=1e-6)


def trl_loss(advantages, clip_range, ratio):
    """``DDPOTrainer.loss``, copied from huggingface/trl, trl/trainer/ddpo_trainer.py at
    commit 0273e9a5cd40097bfb4498ffcb25692cb6cbf703."""
    unclipped_loss = -advantages * ratio
    clipped_loss = -advantages * torch.clamp(
        ratio,
        1.0 - clip_range,
        1.0 + clip_range,
    )
    return torch.mean(torch.maximum(unclipped_loss, clipped_loss))


class UpstreamTracker:
    """``PerPromptStatTracker``, copied from kvablack/ddpo-pytorch,
    ddpo_pytorch/stat_tracking.py at commit 2fda3d4e78eec14913aa71f5d009aba9bb246fba (TRL's
    trl/trainer/utils.py copies it too)."""

    def __init__(self, buffer_size, min_count):
        self.buffer_size = buffer_size
        self.min_count = min_count
        self.stats = {}

    def update(self, prompts, rewards):
        prompts = np.array(prompts)
        rewards = np.array(rewards)
        unique = np.unique(prompts)
        advantages = np.empty_like(rewards)
        for prompt in unique:
            prompt_rewards = rewards[prompts == prompt]
            if prompt not in self.stats:
                self.stats[prompt] = deque(maxlen=self.buffer_size)
            self.stats[prompt].extend(prompt_rewards)

            if len(self.stats[prompt]) < self.min_count:
                mean = np.mean(rewards)
                std = np.std(rewards) + 1e-6
            else:
                mean = np.mean(self.stats[prompt])
                std = np.std(self.stats[prompt]) + 1e-6
            advantages[prompts == prompt] = (prompt_rewards - mean) / std

        return advantages


def test_ddpo_loss_and_normalization_match_upstream() -> None:
    rng = np.random.default_rng(0)
    log_ratio, adv = torch.tensor(rng.normal(0, 0.3, 50)), torch.tensor(rng.normal(0, 1, 50))
    assert float(ddpo_loss(log_ratio, torch.zeros(50), adv, 0.2)) == pytest.approx(
        float(trl_loss(adv, 0.2, torch.exp(log_ratio))), abs=1e-12)
    ours, theirs = PerPromptStats(4, 3), UpstreamTracker(4, 3)
    for _ in range(4):  # buffers fill, overflow, and the batch-wide fallback is used first
        prompts = rng.choice(["a", "b", "c"], size=5).tolist()
        rewards = rng.normal(size=5)
        np.testing.assert_allclose(ours.advantages(prompts, rewards),
                                   theirs.update(prompts, rewards), atol=1e-12)
    # by hand: rewards (1, 3 | 5, 2) of prompts (a, a | b, b), min count 1 → per prompt:
    # a: mean 2, std 1; b: mean 3.5, std 1.5
    got = PerPromptStats(16, 1).advantages(["a", "a", "b", "b"], np.array([1.0, 3, 5, 2]))
    np.testing.assert_allclose(got, [-1 / (1 + 1e-6), 1 / (1 + 1e-6), 1.5 / (1.5 + 1e-6),
                                     -1.5 / (1.5 + 1e-6)])


def test_ddpo_step_gradient_by_hand() -> None:
    """At the first update ρ = 1, so ∇L = −mean_{t,i} A_i ∇log π(x_{t'} | x_t), and for
    N(c·x + d, σ²): ∂log π/∂a = (x' − c·x − d)/σ² · (∂c/∂a·x + ∂d/∂a)."""
    denoiser, tuned, _ = toy()
    chain = chain_of(denoiser.scheduler, STEPS, tuned)
    slopes = coefficient_slopes(denoiser.scheduler, STEPS)
    lr, prompts = 0.01, ["a", "b"] * 6
    optimizer = torch.optim.SGD(tuned.parameters(), lr=lr)
    settings = DDPOSettings(clip_range=0.1, adv_clip_max=100.0, max_grad_norm=None)
    _, run = ddpo_step(denoiser, tuned, optimizer, prompts, total, STEPS,
                       PerPromptStats(16, 1), settings,
                       generator=torch.Generator().manual_seed(4))
    states = [s.double().reshape(-1) for s in run.states]
    rewards = states[-1].numpy()
    names = np.array(prompts)
    adv = np.empty(12)
    for p in ("a", "b"):
        r = rewards[names == p]
        adv[names == p] = (r - r.mean()) / (r.std() + 1e-6)
    grad_a = grad_b = 0.0
    stochastic = [i for i, (_, _, s) in enumerate(chain) if s > 0]
    for i in stochastic:
        c, d, s = chain[i]
        x, nxt = states[i].numpy(), states[i + 1].numpy()
        score = (nxt - c * x - d) / s**2
        ca, da, cb, db = slopes[i]
        grad_a += np.mean(adv * score * (ca * x + da))
        grad_b += np.mean(adv * score * (cb * x + db))
    grad_a, grad_b = grad_a / len(stochastic), grad_b / len(stochastic)
    assert float(tuned.a.detach()) == pytest.approx(0.3 + lr * grad_a, rel=1e-5)
    assert float(tuned.b.detach()) == pytest.approx(0.2 + lr * grad_b, rel=1e-5)
    assert abs(grad_a) > 1e-3  # the update moved the weights


def test_ddpo_refuses_a_deterministic_sampler() -> None:
    denoiser, tuned, _ = toy()
    with pytest.raises(ValueError, match="eta"):
        ddpo_step(denoiser, tuned, torch.optim.SGD(tuned.parameters(), lr=0.1), ["p"], total,
                  STEPS, PerPromptStats(), eta=0.0)


def final_moments(chain) -> tuple[float, float]:
    """Mean and variance of x₀ under the linear chain, x_T ~ N(0, 1)."""
    m, v = 0.0, 1.0
    for c, d, s in chain:
        m, v = c * m + d, c * c * v + s * s
    return m, v


@pytest.mark.parametrize(("lam", "every"), [(0.0, 1), (0.3, 1), (0.3, 2)])
def test_fk_steering_samples_the_tilted_target(lam: float, every: int) -> None:
    """With r(x) = x the tilted target p(x₀)·exp(λx₀) of x₀ ~ N(m, v) is N(m + λv, v)
    (m ≈ −1.02, v ≈ 7.39 here: λ = 0.3 moves the mean by 2.2). The SMC bias is O(1/k);
    64 particles leave about 0.03 of it (importance weighting alone, with no resampling
    along the way, stays 0.2 short at this k)."""
    denoiser, tuned, _ = toy()
    m, v = final_moments(chain_of(denoiser.scheduler, STEPS, tuned))
    n = 2000
    out = fk_steer(denoiser, ["p"] * n, 64, total, STEPS, lam, resample_every=every,
                   generator=torch.Generator().manual_seed(5))
    x = out.latents.double().reshape(-1)
    assert out.particles.shape == (n * 64, 1, 1, 1)
    se = math.sqrt(v / n)
    assert float(x.mean()) == pytest.approx(m + lam * v, abs=4 * se + 0.05)
    assert float(x.var()) == pytest.approx(v, rel=0.15)
    # every particle's recorded reward is its final image's
    assert torch.allclose(out.rewards.double(), out.particles.double().reshape(-1), atol=1e-5)


@pytest.mark.parametrize("every", [1, 2, STEPS + 1])
def test_fk_kl_bound_meets_the_tilted_gaussians_kl(every: int) -> None:
    """The run's bound λ·E_q[r] − E[log Ẑ] against KL(p_λ ‖ p) = λ²v/2 of the tilted
    Gaussian (λ = 0.3: 0.333), which it approaches from above as k grows; with and
    without resampling along the way (the naive chain-rule bound, k·Σ KL(w_r ‖ u), is
    40–60 here)."""
    denoiser, tuned, _ = toy()
    _, v = final_moments(chain_of(denoiser.scheduler, STEPS, tuned))
    lam, n = 0.3, 2000
    out = fk_steer(denoiser, ["p"] * n, 64, total, STEPS, lam, resample_every=every,
                   generator=torch.Generator().manual_seed(5))
    assert out.kl_bound.shape == (n,)
    se = float(out.kl_bound.std()) / math.sqrt(n)
    assert float(out.kl_bound.mean()) == pytest.approx(lam * lam * v / 2, abs=4 * se + 0.02)


def test_fk_kl_bound_is_zero_without_steering() -> None:
    """λ = 0 leaves the base sampler (every weight 1, Ẑ = 1); k = 1 has Ẑ = exp(λ·r) of
    its one particle, so λ·r − log Ẑ = 0 for each prompt."""
    denoiser, _, _ = toy()
    for particles, lam in ((8, 0.0), (1, 0.7)):
        out = fk_steer(denoiser, ["p"] * 50, particles, total, STEPS, lam, resample_every=2,
                       generator=torch.Generator().manual_seed(1))
        assert out.kl_bound.abs().max() < 1e-9, (particles, lam)


def test_log_mean_weight_by_hand() -> None:
    log_w = torch.tensor([0.0, math.log(3.0), math.log(2.0), math.log(2.0)], dtype=torch.float64)
    assert log_mean_weight(log_w, 2).tolist() == pytest.approx([math.log(2.0)] * 2)


def test_reno_noise_gradient_by_hand() -> None:
    """η = 0: x₀ = C·x_T + D with C = Π c_i, so for r(x) = x and d = 1 (K(ε) = ε²/2) each
    row's loss −x₀ + λ·ε²/2 has ∂/∂ε_j = −C + λ·ε_j (rows are separate runs: summed)."""
    denoiser, tuned, _ = toy()
    tuned.requires_grad_(False)
    slope = math.prod(c for c, _, _ in chain_of(denoiser.scheduler, STEPS, tuned, eta=0.0))
    start = torch.tensor([0.5, -1.0, 2.0]).reshape(3, 1, 1, 1)
    noise = start.clone().requires_grad_(True)
    lr, reg = 0.1, 0.3
    rewards, run = reno_step(denoiser, noise, torch.optim.SGD([noise], lr=lr), ["p"] * 3,
                             total, STEPS, reg=reg)
    x0 = run.latents.detach().reshape(-1).double()
    d = x0 - slope * start.reshape(-1).double()  # D, the same for every sample
    assert float(d.max() - d.min()) < 1e-5
    torch.testing.assert_close(rewards.double(), x0, atol=1e-6, rtol=0)
    expected = start.reshape(-1).double() - lr * (-slope + reg * start.reshape(-1).double())
    torch.testing.assert_close(noise.detach().reshape(-1).double(), expected, atol=1e-6,
                               rtol=0)
    # χ_d penalty for d = 4: −3·log‖ε‖ + ‖ε‖²/2
    eps = torch.tensor([[1.0, 2.0, 2.0, 0.0]])
    assert float(norm_penalty(eps)) == pytest.approx(-3 * math.log(3.0) + 4.5)


def test_reno_batch_is_separate_runs_with_each_gradient_clipped() -> None:
    """Three rows in one batch, SGD with Nesterov momentum (the authors' optimizer) and the
    gradient clipped to 0.1 per row, give for two updates the noises of three one-row runs
    each clipped by torch's ``clip_grad_norm_``."""
    denoiser, tuned, _ = toy()
    tuned.requires_grad_(False)
    start = torch.tensor([0.5, -1.0, 2.0]).reshape(3, 1, 1, 1)

    def runs(rows: torch.Tensor, clip_here: bool) -> torch.Tensor:
        noise = rows.clone().requires_grad_(True)
        sgd = torch.optim.SGD([noise], lr=5.0, momentum=0.9, nesterov=True)
        for _ in range(2):
            if clip_here:
                reno_step(denoiser, noise, sgd, ["p"] * len(rows), total, STEPS,
                          max_grad_norm=0.1)
                continue
            run = sample(denoiser, ["p"], STEPS, 0.0, noise=noise, grad_steps=STEPS)
            loss = (-total(["p"], run.pixels) + 0.01 * norm_penalty(noise)).sum()
            sgd.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([noise], 0.1)
            sgd.step()
        return noise.detach()

    batched = runs(start, clip_here=True)
    one_by_one = torch.cat([runs(start[i:i + 1], clip_here=False) for i in range(3)])
    torch.testing.assert_close(batched, one_by_one, atol=1e-6, rtol=0)
    assert not torch.equal(batched, start)


def upstream_d3po_loss(total_prob_0, total_ref_prob_0, total_prob_1, total_ref_prob_1,
                       human_prefer, beta, eps):
    """The loss lines of yk7333/d3po, scripts/train_with_rm.py at commit
    1c906091f6fbd2a76bd2a53328c2da05b8105169 (``config.train.*`` as arguments)."""
    ratio_0 = torch.clamp(torch.exp(total_prob_0-total_ref_prob_0),1 - eps, 1 + eps)
    ratio_1 = torch.clamp(torch.exp(total_prob_1-total_ref_prob_1),1 - eps, 1 + eps)
    loss = -torch.log(torch.sigmoid(beta*(torch.log(ratio_0))*human_prefer[:,0] + beta*(torch.log(ratio_1))*human_prefer[:, 1])).mean()  # noqa: E501
    return loss


def test_d3po_loss_matches_upstream_and_by_hand() -> None:
    rng = np.random.default_rng(1)
    lp, ref = torch.tensor(rng.normal(0, 0.2, (2, 40))), torch.tensor(rng.normal(0, 0.2, (2, 40)))
    first = torch.tensor(rng.random(40) < 0.5)
    prefer = torch.stack([torch.where(first, 1.0, -1.0), torch.where(first, -1.0, 1.0)], 1)
    ours = d3po_loss(lp, ref, first, beta=2.0, eps=0.15)
    theirs = upstream_d3po_loss(lp[0], ref[0], lp[1], ref[1], prefer.double(), 2.0, 0.15)
    assert float(ours) == pytest.approx(float(theirs), abs=1e-12)
    # by hand: one pair, first preferred, log-ratios (0.05, −0.05), β = 1, ε = 0.1:
    # z = 0.05 + 0.05 = 0.1, loss = log(1 + e^−0.1)
    one = d3po_loss(torch.tensor([[0.05], [-0.05]]), torch.zeros(2, 1), torch.tensor([True]),
                    1.0, 0.1)
    assert float(one) == pytest.approx(math.log1p(math.exp(-0.1)), abs=1e-7)


def test_d3po_step_gradient_by_hand() -> None:
    """At θ = ref, ρ = 1 and σ(0) = ½, so ∇L = −(β/2)·mean_{t,pairs}(h₀∇log π₀ + h₁∇log π₁)."""
    denoiser, tuned, _ = toy()
    reference = copy.deepcopy(tuned).requires_grad_(False)
    chain = chain_of(denoiser.scheduler, STEPS, tuned)
    slopes = coefficient_slopes(denoiser.scheduler, STEPS)
    lr, beta, n = 0.05, 0.5, 8

    def larger(prompts, a, b):
        return a.reshape(len(a), -1).sum(1) > b.reshape(len(b), -1).sum(1)

    share, run = d3po_step(denoiser, tuned, reference, torch.optim.SGD(tuned.parameters(), lr=lr),
                           ["p"] * n, larger, STEPS, beta=beta, eps=0.1,
                           generator=torch.Generator().manual_seed(6))
    states = [s.double().reshape(-1).numpy() for s in run.states]
    first = states[-1][:n] > states[-1][n:]
    assert share == pytest.approx(first.mean())
    sign = np.where(first, 1.0, -1.0)
    grad_a = grad_b = 0.0
    stochastic = [i for i, (_, _, s) in enumerate(chain) if s > 0]
    for i in stochastic:
        c, d, s = chain[i]
        x, nxt = states[i], states[i + 1]
        score = (nxt - c * x - d) / s**2
        ca, da, cb, db = slopes[i]
        sa, sb = score * (ca * x + da), score * (cb * x + db)
        grad_a += np.mean(-0.5 * beta * sign * (sa[:n] - sa[n:]))
        grad_b += np.mean(-0.5 * beta * sign * (sb[:n] - sb[n:]))
    grad_a, grad_b = grad_a / len(stochastic), grad_b / len(stochastic)
    assert float(tuned.a.detach()) == pytest.approx(0.3 - lr * grad_a, rel=1e-5)
    assert float(tuned.b.detach()) == pytest.approx(0.2 - lr * grad_b, rel=1e-5)
    assert abs(grad_a) > 1e-4

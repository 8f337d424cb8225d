"""The synthetic arena: a deterministic preference task with a known gold reward.

Prompts of four kinds (arithmetic, factual recall from an invented fact table,
refusal-worthy requests, formatting instructions), candidate responses built
from latent attributes (correct, relevant, polite, explanation and padding
sentences), a gold reward computed from those attributes, and noisy
Bradley–Terry preference pairs. It is the offline default for
``rewardlab demo`` and the testbed for reward over-optimization (Gao, Schulman
& Hilton, "Scaling Laws for Reward Model Overoptimization", ICML 2023). The
formulas are in ``responses`` (base distribution, gold) and ``arena`` (pairs).
"""

from rewardlab.data.synthetic.arena import (
    Arena,
    ArenaConfig,
    generate_arena,
    pool_records,
    preference_pairs,
    sample_candidates,
)
from rewardlab.data.synthetic.responses import (
    Candidate,
    gold_reward,
    gold_reward_from_text,
    parse_response,
)
from rewardlab.data.synthetic.tasks import PromptItem, parse_prompt
from rewardlab.data.synthetic.world import Fact, fact_value

__all__ = [
    "Arena",
    "ArenaConfig",
    "Candidate",
    "Fact",
    "PromptItem",
    "fact_value",
    "generate_arena",
    "gold_reward",
    "gold_reward_from_text",
    "parse_prompt",
    "parse_response",
    "pool_records",
    "preference_pairs",
    "sample_candidates",
]

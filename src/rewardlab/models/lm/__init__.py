"""Language-model reward sources used as published: Hugging Face sequence classifiers
(:mod:`~rewardlab.models.lm.hf_reward`) and LLM judges (:mod:`~rewardlab.models.lm.judge`),
with the hub resolution (:mod:`~rewardlab.models.lm.hub`) and text formatting
(:mod:`~rewardlab.models.lm.chat`) they share."""

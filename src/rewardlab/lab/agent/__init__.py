"""Rewards for decision-making agents: the preference loop of Christiano et al. (2017)
with Stable-Baselines3 (``preference_loop``), its query strategies (``queries``), and
``lab agent``, which compares policies trained on a learned reward with policies
trained on the true one (``experiment.run_agent_lab(AgentLabOptions(...))``;
``report.write_agent_report`` writes the JSON, the HTML report, PNGs, pairs and
models). ``lab agent-overopt`` (``overopt.run_agent_overopt``, ``overopt_report``)
trains a policy longer and longer on a frozen learned reward and measures gold,
proxy and KL (``policy_kl``), with rollout strips (``sketch``); ``llm_feedback``
distills an LLM judge's feedback on text descriptions of states into an intrinsic
reward (ONI). ``options`` and ``overopt_options`` import no torch, so the CLI loads
fast."""

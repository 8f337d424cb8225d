"""Rewards for decision-making agents: the preference loop of Christiano et al. (2017)
with Stable-Baselines3 (``preference_loop``), its query strategies (``queries``), and
``lab agent``, which compares policies trained on a learned reward with policies
trained on the true one (``experiment.run_agent_lab(AgentLabOptions(...))``;
``report.write_agent_report`` writes the JSON, the HTML report, PNGs, pairs and
models). ``options`` imports no torch, so the CLI loads fast."""

"""The diffusion lab (``rewardlab lab diffusion``): its generator, options, experiment and report."""

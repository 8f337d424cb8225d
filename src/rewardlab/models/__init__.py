"""Reward model heads, losses, the training loop, and save/load."""

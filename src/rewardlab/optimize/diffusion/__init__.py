"""Optimizing diffusion generators against image rewards: the sampler and its path KL, and one
module per method (best-of-n, DRaFT/AlignProp, DDPO, FK steering, ReNO, D3PO)."""

"""Backbones that turn (prompt, response) pairs into feature vectors."""

from rewardlab.features.backbones import backbone_from_config, build_backbone
from rewardlab.features.base import Backbone

__all__ = ["Backbone", "backbone_from_config", "build_backbone"]

"""Backbones that turn (prompt, response) pairs into feature vectors."""

from rewardlab.features.base import Backbone, backbone_from_config, build_backbone

__all__ = ["Backbone", "backbone_from_config", "build_backbone"]

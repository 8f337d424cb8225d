"""rewardlab.features"""

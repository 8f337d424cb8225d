"""rewardlab.integrations"""

"""rewardlab.scale"""

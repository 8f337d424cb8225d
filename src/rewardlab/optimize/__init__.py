"""rewardlab.optimize"""

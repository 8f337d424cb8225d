"""rewardlab.robust"""

"""rewardlab.evaluate"""

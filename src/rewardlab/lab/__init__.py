"""rewardlab.lab"""

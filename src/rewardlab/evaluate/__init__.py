"""Metrics, suites, probes, attacks and reports for any RewardModel or PreferenceModel."""

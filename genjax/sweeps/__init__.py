"""Sweeps: a study's members (config overrides) run by a launcher, each into its own run dir."""

"""Tests of training: the engine, recipes and defaults, the service, experiments as plans, fairness, Ray."""

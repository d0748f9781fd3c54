"""Tests of the papers' experiments and the command line."""

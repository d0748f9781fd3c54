"""Tests of the layout's rules and what a new variant needs."""

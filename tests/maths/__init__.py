"""Tests of the maths: distributions, estimators, variants learning, the likelihood protocol, random draws."""

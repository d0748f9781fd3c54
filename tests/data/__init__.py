"""Tests of inputs: data sets, pictures, a person's own data."""

"""Tests of a room of strangers: upload bounds, page work bounded, the workshop deployment."""

"""Tests of the training process as the server sees it: shares, recovery, the host's key."""

"""Tests of what is kept: checkpoints, the model store, exports."""

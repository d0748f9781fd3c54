"""Storage: checkpoints (`checkpoint`, safetensors and JSON; `checkpoint_header`, the header read without torch) and
where visitors save models (`store`). Importing this package imports no torch: the home page reads headers only."""

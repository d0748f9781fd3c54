"""Training: the one loop (`engine`), a run's recipe (`recipe`, `defaults`), experiments as plans of stages (`stages`),
the service that schedules every session's runs (`service`) on threads or a Ray cluster (`ray_backend`), and the
process that hosts the service beside the web server (`process`). Nothing here but the process saves a file (cvae_core.storage)."""

"""One run's life: the loop, resume, checkpoints, records, signals, progress and trackers."""

"""Pure metric functions over token ids and log-probabilities: no I/O, no state, no imports of ours."""

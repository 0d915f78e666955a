"""Training algorithms over the one shared generator: each is an update rule behind `Algorithm`."""

"""A training run: its configuration and options, data, model set-up, epochs, validation, checkpoints."""

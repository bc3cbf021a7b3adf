"""What is computed from a track for training: the prepared feature cache, drops, clips, augmentations."""

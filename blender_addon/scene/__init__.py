"""What the add-on writes into the .blend: properties, looks, stored timeline, sync, stage, keys, render."""

"""Planning the show without bpy: timeline + mapping + looks -> keyframes, colours, summaries."""

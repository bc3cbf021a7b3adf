"""Genre inference at run time: exported ONNX models -> time-stamped genre distributions.

:mod:`.features` (log-mel in numpy) and :mod:`.chroma` compute the inputs, :mod:`.model`
loads and checks a model, :mod:`.windows` places the 4-bar windows and summarises
them, :mod:`.inference` runs a whole track.
"""
from .inference import analyze_genres, analyze_genres_file
from .model import GenreModel, GenreModelError, METADATA_FORMAT, default_model_path, load_genre_model, metadata_path, validate_metadata
from .windows import DEFAULT_SMOOTHING, NON_DROP_WEIGHT, smooth_windows, summarize, window_grid

__all__ = [
    "DEFAULT_SMOOTHING", "GenreModel", "GenreModelError", "METADATA_FORMAT", "NON_DROP_WEIGHT", "analyze_genres",
    "analyze_genres_file", "default_model_path", "load_genre_model", "metadata_path", "smooth_windows", "summarize",
    "validate_metadata", "window_grid",
]

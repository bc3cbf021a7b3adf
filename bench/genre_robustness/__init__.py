"""Parts of bench/bench_genre_robustness.py: transformations, the real-music list, domain classifiers."""

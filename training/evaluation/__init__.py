"""Judging models and analyses: metrics, held-out evaluation, timeline scores, embedding plots."""

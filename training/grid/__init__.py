"""The paper's Table 2 grid: its cells, running them (resumable) and the report."""

"""Datasets: the sequences a run trains on and is measured against (synthetic oracle, real text)."""

"""HTTP intake for collectors."""

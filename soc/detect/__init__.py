"""Detection: Sigma rules loaded, converted to the neutral query tree and evaluated on any store."""

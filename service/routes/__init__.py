"""The HTTP routes, one module per concern: `predict` (the model) and `meta` (everything else)."""

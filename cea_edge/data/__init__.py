"""Training and evaluation data: clean sources, degradations, suites, the training stream."""

"""Readers of preference data sets other than UltraFeedback, each into a table the steps read."""

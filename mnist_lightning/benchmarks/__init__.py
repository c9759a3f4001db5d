"""Measurement code of the bench and photos commands: the timed training loops and the photo conditions."""

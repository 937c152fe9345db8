"""``wardlink demo``: a whole simulated site on one machine."""

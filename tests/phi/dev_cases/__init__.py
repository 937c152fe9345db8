"""Hand-written development cases for the PHI scrubber (tuned on; never the frozen set)."""

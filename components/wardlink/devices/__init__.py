"""Device-level procedures above a transport and a codec (e.g. glucose record sync)."""

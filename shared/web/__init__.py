"""HTTP helpers every service mounts: health, metrics, limits, auth and error mapping."""

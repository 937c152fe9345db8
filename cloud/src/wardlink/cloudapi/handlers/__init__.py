"""Lambda entry points, one per module: ``wardlink.cloudapi.handlers.<name>.handler``."""

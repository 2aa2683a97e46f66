"""xraylayer: distributed tracing for AWS Lambda Python functions with no code change."""

__version__ = "0.1.0"

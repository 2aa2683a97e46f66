"""The xraylayer Lambda extension: takes the spans and exports them after the response."""

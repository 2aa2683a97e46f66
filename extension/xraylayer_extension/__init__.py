"""The xraylayer Lambda extension: receives the function's spans and exports them after the response."""

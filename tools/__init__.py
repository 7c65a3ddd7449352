"""Developer tooling: finding Python, training only when needed, starting and stopping the stack."""

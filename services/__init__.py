"""The platform's services. Each is deployable on its own; none imports another."""

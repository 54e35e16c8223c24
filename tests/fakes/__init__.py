"""Fakes of services we do not own, reached over real sockets."""

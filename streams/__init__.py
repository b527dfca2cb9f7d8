"""Redis side of the spine: connection and embedded server, producer, consumer groups,
live state, retention and push."""

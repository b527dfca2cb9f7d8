"""Wiring between pages and the live state: Socket.IO handlers and Dash callbacks."""

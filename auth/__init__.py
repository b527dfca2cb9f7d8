"""Identity, access and audit (MLPS 2.0 level 3): logic here, Flask/Dash/Socket.IO wiring in app.py and callbacks/."""

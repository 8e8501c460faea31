"""The portal in the browser: server-rendered pages (Jinja2) for each role's workspace, the
request wizard, live tracking and evidence upload, with small scripts of our own."""

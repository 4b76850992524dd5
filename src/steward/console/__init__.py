"""The web console: server-rendered pages, one stylesheet, no front-end build step."""

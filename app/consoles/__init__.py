"""The browser consoles: the dispatcher, planner, patrol and reports pages, the strings their scripts
show, and the browser assets they load from the npm registry (served by the app, never a CDN)."""

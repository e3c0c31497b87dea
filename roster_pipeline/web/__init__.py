"""The ops console (`roster web`): server-rendered pages, their JSON twins under /api/,
/metrics and health checks. Beside ``service`` in the layering: it uses the core API,
render and store; nothing below it imports it."""

"""A real JupyterHub for the tests: configurable-http-proxy from npm, the hub, its spawner."""

"""The REST API: thin routes that parse input, call a service and render the result."""

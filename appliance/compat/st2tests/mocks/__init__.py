"""In-memory stand-ins for the services StackStorm hands actions and sensors, for pack tests."""

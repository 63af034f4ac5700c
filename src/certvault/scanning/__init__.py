"""TLS endpoint scanning: targets, runs, results with history, schedules, grading."""

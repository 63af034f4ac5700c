"""certvault agents: enrolment, mutual-TLS identity, and the jobs agents run on end servers."""

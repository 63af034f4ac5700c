"""The deployment agent: talks to the server's REST API over mTLS only (to be built)."""

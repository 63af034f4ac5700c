"""The internal CA: a root and an issuing intermediate; server and client (mTLS) certificates."""
